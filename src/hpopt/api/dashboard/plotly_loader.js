// Plotly, loaded on first use: the Analyze view asks for it, other views never pay for its
// ~5 MB. The server serves it from its installed plotly package (no CDN: works offline).

export const PLOTLY_URL = "/dashboard/vendor/plotly.min.js";
let loading = null;

export function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = PLOTLY_URL;
      script.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error("plotly.min.js defined no Plotly")));
      script.onerror = () => {
        loading = null; // try again next time (the server may have been restarted with plotly installed)
        script.remove();
        reject(new Error("the charting library did not load: the server needs the plotly package (requirements.txt)"));
      };
      document.head.append(script);
    });
  }
  return loading;
}
