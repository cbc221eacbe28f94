// The one entry point of the vendored bundle: regl-scatterplot (and regl, to make its
// WebGL context with the page's own settings) as globals.
import createScatterplot, { createRenderer } from "regl-scatterplot";
import createREGL from "regl";
window.createScatterplot = createScatterplot;
window.createScatterplotRenderer = createRenderer;
window.createREGL = createREGL;
