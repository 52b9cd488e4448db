// The hosted form page's proof-of-work widget: ALTCHA's CSP-friendly build, with its SHA-256
// worker served from this origin (the page's CSP allows no inline styles or blob: workers).
import "/static/vendor/altcha/altcha.external.min.js";

const sha = () => new Worker("/static/vendor/altcha/workers/sha.js");
for (const name of ["SHA-256", "SHA-384", "SHA-512"]) globalThis.$altcha.algorithms.set(name, sha);
