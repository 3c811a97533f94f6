// The search page. Every text that comes from the service (gallery, class and tenant names,
// errors) is set as text (textContent, new Option), never parsed as HTML, and the service's
// Content-Security-Policy runs no inline script: a name cannot become code in this page.
"use strict";
const $ = (id) => document.getElementById(id);
let galleries = [];
let shownQuery = null; // the query whose results are on the page: what "add" sends

function say(text, isError = false) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

function authorization() {
  const token = sessionStorage.getItem("token");
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function call(url, options = {}) {
  const response = await fetch(url, { ...options, headers: { ...authorization(), ...options.headers } });
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const body = isJson ? await response.json() : null;
  if (!response.ok) throw new Error(body && body.error ? body.error : `${response.status} ${response.statusText}`);
  return body;
}

function clearResults() {
  shownQuery = null;
  $("results").replaceChildren();
  $("results-panel").hidden = true;
  $("query-panel").hidden = true;
}

async function loadGalleries() {
  const chosen = $("gallery").value;
  try {
    const who = await call("/api/tenant");
    galleries = who.galleries;
    $("tenant").textContent = who.tenant ? `signed in as ${who.tenant}` : "";
  } catch (error) {
    say(error.message, true);
    return;
  }
  // a person's name for each gallery first, the name the API uses as the detail
  $("gallery").replaceChildren(...galleries.map((g) => {
    const detail = [g.title === g.name ? "" : g.name, `${g.items.toLocaleString("en")} images`,
      g.visibility === "private" ? "private" : ""].filter(Boolean).join(", ");
    return new Option(`${g.title} (${detail})`, g.name);
  }));
  if (galleries.some((g) => g.name === chosen)) $("gallery").value = chosen;
  if (!galleries.length) say("no gallery is loaded: build one with `aesearch build`", true);
  showLabels();
}

function currentGallery() {
  return galleries.find((g) => g.name === $("gallery").value);
}

function showLabels() {
  const gallery = currentGallery();
  const names = gallery ? gallery.class_names : [];
  $("label").replaceChildren(new Option("none", ""), ...names.map((name, index) => new Option(name, String(index))));
}

async function imageSource(url) {
  if (!sessionStorage.getItem("token")) return url;
  const response = await fetch(url, { headers: authorization() }); // a private gallery's image
  return response.ok ? URL.createObjectURL(await response.blob()) : "";
}

function resultCard(hit) {
  const card = document.createElement("div");
  card.className = "result";
  const image = document.createElement("img");
  image.className = "pixels";
  image.alt = `gallery image ${hit.id}`;
  imageSource(hit.image_url).then((source) => { image.src = source; });
  const label = document.createElement("div");
  label.className = "label";
  label.textContent = hit.label_name ?? (hit.label === null ? "no label" : String(hit.label));
  const numbers = document.createElement("div");
  numbers.textContent = `#${hit.rank} · ${hit.distance.toFixed(3)}`;
  card.append(image, label, numbers);
  return card;
}

async function search(blob) {
  clearResults();
  const form = new FormData();
  form.append("image", blob, "query.png");
  say("searching ...");
  const name = encodeURIComponent($("gallery").value);
  const k = encodeURIComponent($("k").value);
  let body;
  try {
    body = await call(`/api/galleries/${name}/search?k=${k}`, { method: "POST", body: form });
  } catch (error) {
    say(error.message, true);
    return;
  }
  shownQuery = blob;
  $("query").src = body.query.image;
  $("query-panel").hidden = false;
  $("results").replaceChildren(...body.results.map(resultCard));
  $("results-panel").hidden = false;
  say(`${body.results.length} nearest images` + (body.query.inverted ? " (query inverted to light on dark)" : ""));
}

async function addQuery() {
  if (!shownQuery) return;
  const form = new FormData();
  form.append("image", shownQuery, "query.png");
  if ($("label").value !== "") form.append("label", $("label").value);
  try {
    const body = await call(`/api/galleries/${encodeURIComponent($("gallery").value)}/images`, { method: "POST", body: form });
    say(`added as id ${body.id}; the gallery has ${body.items} images`);
  } catch (error) {
    say(error.message, true);
    return;
  }
  await loadGalleries();
}

function useToken() {
  const token = $("token").value.trim();
  if (token) sessionStorage.setItem("token", token); else sessionStorage.removeItem("token");
  $("token").value = "";
  clearResults();
  say(token ? "token set" : "token cleared");
  loadGalleries();
}

$("file").addEventListener("change", () => { if ($("file").files[0]) search($("file").files[0]); });
$("gallery").addEventListener("change", () => { clearResults(); say(""); showLabels(); });
$("add").addEventListener("click", addQuery);
$("use-token").addEventListener("click", useToken);
const drop = $("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault(); drop.classList.remove("over");
  if (event.dataTransfer.files[0]) search(event.dataTransfer.files[0]);
});

const canvas = $("canvas");
const pen = canvas.getContext("2d");
function clearCanvas() {
  pen.fillStyle = "black"; pen.fillRect(0, 0, canvas.width, canvas.height);
  $("canvas-hint").hidden = false;
}
clearCanvas();
let drawing = false;
function point(event) {
  const box = canvas.getBoundingClientRect();
  return [event.clientX - box.left, event.clientY - box.top];
}
canvas.addEventListener("pointerdown", (event) => {
  drawing = true; $("canvas-hint").hidden = true; pen.beginPath(); pen.moveTo(...point(event));
});
canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  pen.lineWidth = 18; pen.lineCap = "round"; pen.strokeStyle = "white";
  pen.lineTo(...point(event)); pen.stroke();
});
window.addEventListener("pointerup", () => { drawing = false; });
$("clear").addEventListener("click", clearCanvas);
$("search-drawing").addEventListener("click", () => canvas.toBlob(search, "image/png"));

loadGalleries();
