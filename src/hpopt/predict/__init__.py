"""Predict with a finished run's model on new files: ``python src/optimizer.py predict run=... input=...``.

inputs reads what the user gives (images, .npz, texts) into the run's preprocessing, with numpy and
PIL only, so every mistake is answered before TensorFlow loads; runner loads the model (Keras,
SavedModel or TFLite) and writes the rows; cli parses key=value and owns the terminal.
"""
