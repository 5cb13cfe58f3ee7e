// Exhibition pages: the step in the middle of the screen drives the viewer; buttons and arrow keys move
// between steps. The page is complete without this script (each step has its own picture).

import "./iiif-viewer.js";
import { parseXywh } from "./deeplink.js";

const REDUCED_MOTION = window.matchMedia("(prefers-reduced-motion: reduce)");
const viewer = document.querySelector(".ex-viewer iiif-viewer");
const steps = [...document.querySelectorAll(".ex-step")];
const previousButton = document.querySelector(".ex-previous");
const nextButton = document.querySelector(".ex-next");
const position = document.querySelector(".ex-position");
let active = -1;
// While the page scrolls to a step the reader chose, the steps it passes (and a last step that cannot
// reach the middle of the screen) must not take over: the observer waits until the scroll has ended.
const JUMP_SETTLE_MS = 1500;
let jumping = false;
let jumpTimer = 0;

function endJump() {
  jumping = false;
  clearTimeout(jumpTimer);
}

function stateOf(step) {
  const region = step.dataset.region;
  return { manifest: step.dataset.manifest, canvas: step.dataset.canvas, region: region ? parseXywh(region) : null };
}

function activate(index) {
  if (index < 0 || index >= steps.length || index === active) return;
  active = index;
  steps.forEach((step, number) => step.classList.toggle("ex-step-active", number === index));
  previousButton.disabled = index === 0;
  nextButton.disabled = index === steps.length - 1;
  position.textContent = `${index + 1} / ${steps.length}`;
  viewer.dataset.step = String(index + 1);
  viewer.show(stateOf(steps[index]), { immediately: REDUCED_MOTION.matches }).catch((error) => console.error(error));
}

function moveTo(index) {
  if (index < 0 || index >= steps.length) return;
  jumping = true;
  clearTimeout(jumpTimer);
  jumpTimer = setTimeout(endJump, JUMP_SETTLE_MS);  // no scrollend comes when the page need not move
  activate(index);
  const heading = steps[index].querySelector(".ex-step-heading");
  heading.focus({ preventScroll: true });
  steps[index].scrollIntoView({ behavior: REDUCED_MOTION.matches ? "auto" : "smooth", block: "center" });
}

// The step across the middle of the screen is the active one. It is read from the layout when the
// observer reports, not from the reports themselves, which can arrive after a later jump.
function centredStep() {
  const middle = window.innerHeight / 2;
  return steps.findIndex((step) => {
    const box = step.getBoundingClientRect();
    return box.top <= middle && box.bottom >= middle;
  });
}

const observer = new IntersectionObserver(() => {
  if (jumping) return;
  const index = centredStep();
  if (index >= 0) activate(index);
}, { rootMargin: "-45% 0px -45% 0px" });
steps.forEach((step) => observer.observe(step));
window.addEventListener("scrollend", endJump);

previousButton.addEventListener("click", () => moveTo(active - 1));
nextButton.addEventListener("click", () => moveTo(active + 1));
document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.target.closest("iiif-viewer, input, textarea, select")) return;
  if (event.key === "ArrowRight" || event.key === "ArrowDown") moveTo(active + 1);
  else if (event.key === "ArrowLeft" || event.key === "ArrowUp") moveTo(active - 1);
  else return;
  event.preventDefault();
});
// The page is rendered in one language: the viewer's language button switches the whole page.
viewer.addEventListener("iiif-viewer:language", () => {
  window.location.assign(document.querySelector(".iv-language-link").href);
});
activate(0);
