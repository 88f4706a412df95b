"""hpopt: hyperparameter optimization of Keras CNN and LSTM models with Optuna."""

__version__ = "0.1.0"
