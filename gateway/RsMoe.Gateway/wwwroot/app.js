// The RS-MoE page: plain JavaScript over the gateway's public REST API (the same any frontend would use).
"use strict";

const MAX_IMAGE_BYTES = 20 * 1024 * 1024;
const $ = (id) => document.getElementById(id);

let image = null;        // the chosen image as a Blob
let imageName = "";
let busy = false;

// ---------- access ----------

/** Headers for the API: the key the user entered, if any. */
function apiHeaders() {
  const key = $("api-key").value.trim();
  return key ? { "x-api-key": key } : {};
}

// ---------- errors in plain words ----------

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

/** A person-readable sentence for a problem-details response (or a network failure). */
function explain(status, problem) {
  const detail = (problem && (problem.detail || problem.title)) || "";
  switch (status) {
    case 400: return `This request can't be used: ${detail}`;
    case 401: return `This gateway needs a valid API key (${detail}): enter it under "API key" below.`;
    case 403: return `This API key may not do that: ${detail}`;
    case 429: return `Too many requests for this key: ${detail}`;
    case 413: return `The image is too large: ${detail}`;
    case 415: return `Unsupported upload: ${detail}`;
    case 503: return `A service is unavailable right now: ${detail}. Please try again in a moment.`;
    case 504: return `That took too long: ${detail}`;
    case 0: return "The gateway cannot be reached. Is the constellation running?";
    default: return `Something went wrong (${status}): ${detail}`;
  }
}

async function failure(response) {
  let problem = null;
  try { problem = await response.json(); } catch { /* not JSON */ }
  return explain(response.status, problem);
}

// ---------- choosing an image ----------

function setBusy(value) {
  busy = value;
  $("caption-button").disabled = busy || !image;
  $("ask-button").disabled = busy || !image;
}

function chooseImage(blob, name) {
  showError("");
  if (blob.size > MAX_IMAGE_BYTES) {
    showError(`The image is too large: ${(blob.size / 1048576).toFixed(1)} MiB; at most 20 MiB is accepted.`);
    return;
  }
  image = blob;
  imageName = name;
  const preview = $("preview");
  const img = $("preview-image");
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(blob);
  img.alt = `The chosen image: ${name}`;
  $("preview-name").textContent = `${name} (${Math.round(blob.size / 1024)} KiB)`;
  preview.hidden = false;
  resetCaption();
  $("answer").hidden = true;
  setBusy(false);
}

async function loadSamples() {
  try {
    const response = await fetch("v1/samples", { headers: apiHeaders() });
    if (!response.ok) return;
    const { samples } = await response.json();
    const list = $("sample-list");
    for (const sample of samples) {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.sample = sample.name;
      button.setAttribute("aria-label", `Use the sample scene ${sample.name}`);
      const thumb = document.createElement("img");
      thumb.src = sample.url;
      thumb.alt = "";
      const label = document.createElement("span");
      label.textContent = sample.name;
      button.append(thumb, label);
      button.addEventListener("click", async () => {
        const blob = await (await fetch(sample.url)).blob();
        chooseImage(blob, `${sample.name}.png`);
      });
      list.append(button);
    }
  } catch { /* samples are a convenience */ }
}

function wireImageInput() {
  $("image-input").addEventListener("change", (e) => {
    const file = e.target.files && e.target.files[0];
    if (file) chooseImage(file, file.name);
  });
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    const file = e.dataTransfer.files && e.dataTransfer.files[0];
    if (file) chooseImage(file, file.name);
  });
}

// ---------- captions, streamed ----------

/** The section an expert writes (made on first sight: the gateway, not this page, knows the experts). */
function sectionElement(aspect) {
  const existing = document.querySelector(`.section[data-aspect="${CSS.escape(aspect)}"]`);
  if (existing) return existing;
  const section = document.createElement("article");
  section.className = `section ${aspect}`;
  section.dataset.aspect = aspect;
  const heading = document.createElement("h3");
  heading.append(aspect.charAt(0).toUpperCase() + aspect.slice(1) + " ");
  const expert = document.createElement("span");
  expert.className = "expert";
  expert.dataset.role = "expert";
  heading.append(expert);
  const text = document.createElement("p");
  text.dataset.role = "text";
  section.append(heading, text);
  $("sections").append(section);
  return section;
}

function resetCaption() {
  for (const section of document.querySelectorAll(".section")) {
    section.classList.remove("writing", "missing", "done");
    section.querySelector('[data-role="text"]').textContent = "";
    section.querySelector('[data-role="expert"]').textContent = "";
  }
  $("merged-caption").textContent = "";
  $("caption-status").textContent = "";
}

function cacheText(cache) {
  return cache === "hit" ? "visual features from the cache" : "visual features computed (cache miss)";
}

function showTimings(timings) {
  const body = $("timings").querySelector("tbody");
  body.replaceChildren();
  for (const [stage, ms] of Object.entries(timings || {})) {
    const row = document.createElement("tr");
    const name = document.createElement("td");
    name.textContent = stage.replace(/_/g, " ");
    const value = document.createElement("td");
    value.textContent = Number(ms).toFixed(0);
    row.append(name, value);
    body.append(row);
  }
}

function onCaptionEvent(name, data) {
  if (name === "features") {
    $("caption-status").textContent = cacheText(data.cache) + " · the experts are writing…";
    $("caption-status").className = "status";
  } else if (name === "token") {
    const section = sectionElement(data.aspect);
    if (!section) return;
    section.classList.add("writing");
    section.querySelector('[data-role="text"]').textContent += data.text;
  } else if (name === "section") {
    const section = sectionElement(data.aspect);
    if (!section) return;
    section.classList.remove("writing");
    section.classList.add("done");
    if (data.error) {
      section.classList.add("missing");
      section.querySelector('[data-role="text"]').textContent = `This section is missing: ${data.error}.`;
    } else {
      section.querySelector('[data-role="text"]').textContent = data.text;
      section.querySelector('[data-role="expert"]').textContent = `written by ${data.expert}`;
    }
  } else if (name === "done") {
    $("merged-caption").textContent = data.caption;
    const status = $("caption-status");
    status.textContent = `Done · ${cacheText(data.cache)} · ${Number(data.timings_ms.total).toFixed(0)} ms`;
    status.className = "status " + (data.cache === "hit" ? "cache-hit" : "cache-miss");
    showTimings(data.timings_ms);
  } else if (name === "error") {
    showError(explain(data.status || 500, data));
  }
}

/** Reads server-sent events from a fetch response (EventSource cannot POST). */
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      let data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}

async function caption(event) {
  event.preventDefault();
  if (!image || busy) return;
  showError("");
  resetCaption();
  setBusy(true);
  $("caption-status").textContent = "Sending the image…";
  const form = new FormData();
  form.append("image", image, imageName);
  const instruction = $("instruction").value.trim();
  if (instruction) form.append("instruction", instruction);
  try {
    const response = await fetch("v1/caption/stream", { method: "POST", body: form, headers: apiHeaders() });
    if (!response.ok) {
      showError(await failure(response));
      $("caption-status").textContent = "";
      return;
    }
    await readEvents(response, onCaptionEvent);
  } catch {
    showError(explain(0));
  } finally {
    setBusy(false);
    refreshExperts();
  }
}

// ---------- questions ----------

async function ask(event) {
  event.preventDefault();
  if (!image || busy) return;
  const question = $("question").value.trim();
  if (!question) { showError("Type a question first."); return; }
  showError("");
  setBusy(true);
  const form = new FormData();
  form.append("image", image, imageName);
  form.append("question", question);
  try {
    const response = await fetch("v1/ask", { method: "POST", body: form, headers: apiHeaders() });
    if (!response.ok) { showError(await failure(response)); return; }
    const answer = await response.json();
    $("answer-text").textContent = answer.answer || "(no answer)";
    const meta = $("answer-meta");
    meta.textContent = `answered by ${answer.expert} · ${cacheText(answer.cache)} · ${Number(answer.timings_ms.total).toFixed(0)} ms`;
    meta.className = "status " + (answer.cache === "hit" ? "cache-hit" : "cache-miss");
    $("answer").hidden = false;
    showTimings(answer.timings_ms);
  } catch {
    showError(explain(0));
  } finally {
    setBusy(false);
  }
}

// ---------- experts ----------

async function refreshExperts() {
  const list = $("experts");
  try {
    const response = await fetch("v1/experts", { headers: apiHeaders() });
    if (!response.ok) return;
    const { experts } = await response.json();
    for (const expert of experts) sectionElement(expert.role);
    list.replaceChildren();
    for (const expert of experts) {
      const item = document.createElement("li");
      item.dataset.role = expert.role;
      const name = document.createElement("strong");
      name.textContent = expert.role;
      const badge = document.createElement("span");
      const serving = expert.health === "SERVING";
      badge.className = "badge " + (serving ? "serving" : "down");
      badge.textContent = serving ? "serving" : "unavailable";
      const detail = document.createElement("span");
      detail.className = "status";
      detail.textContent = `${expert.version || "version unknown"} · ${expert.healthy_replicas}/${expert.replicas} replicas`;
      item.append(name, badge, detail);
      list.append(item);
    }
  } catch {
    list.replaceChildren();
    const item = document.createElement("li");
    item.textContent = "The gateway cannot be reached.";
    list.append(item);
  }
}

// ---------- whole scenes ----------

// Distinct colours for themes, in the order they first appear in a scene.
const THEME_COLOURS = ["#b45309", "#6d28d9", "#15803d", "#1d4ed8", "#be185d", "#0e7490", "#a16207", "#4d7c0f", "#7c2d12", "#334155"];
let sceneJob = null;     // the running job's URL
let sceneTimer = 0;

function themeColour(themes, theme) {
  if (!themes.has(theme)) themes.set(theme, THEME_COLOURS[themes.size % THEME_COLOURS.length]);
  return themes.get(theme);
}

function showTileCaption(properties) {
  $("scene-tile-caption").textContent = properties.error
    ? `Tile ${properties.tile}: not captioned (${properties.error})`
    : `Tile ${properties.tile} · ${properties.theme}: ${properties.caption}`;
}

/** Draws the tiles finished so far over the preview, coloured by theme, and the themes by area. */
function drawScene(job, geojson) {
  const grid = $("scene-grid");
  const themes = new Map();
  (geojson.summary || []).forEach((s) => themeColour(themes, s.theme));
  const drawn = new Set([...grid.children].map((e) => Number(e.dataset.tile)));
  for (const feature of geojson.features) {
    const p = feature.properties;
    if (drawn.has(p.tile)) continue;
    const tile = document.createElement("button");
    tile.type = "button";
    tile.className = "scene-tile " + (p.error ? "failed" : "done");
    tile.dataset.tile = p.tile;
    if (p.theme) { tile.dataset.theme = p.theme; tile.style.setProperty("--tile-colour", themeColour(themes, p.theme)); }
    tile.style.left = `${(100 * p.window.x) / job.width}%`;
    tile.style.top = `${(100 * p.window.y) / job.height}%`;
    tile.style.width = `${(100 * p.window.width) / job.width}%`;
    tile.style.height = `${(100 * p.window.height) / job.height}%`;
    tile.title = p.error ? `not captioned: ${p.error}` : `${p.theme}: ${p.caption}`;
    tile.setAttribute("aria-label", `tile ${p.tile}: ${p.theme || "not captioned"}`);
    tile.addEventListener("mouseenter", () => showTileCaption(p));
    tile.addEventListener("click", () => {
      grid.querySelectorAll(".chosen").forEach((e) => e.classList.remove("chosen"));
      tile.classList.add("chosen");
      showTileCaption(p);
    });
    grid.appendChild(tile);
  }
  // Colours follow the summary's order, so recolour what was drawn before a theme moved up.
  grid.querySelectorAll(".scene-tile[data-theme]").forEach((e) => e.style.setProperty("--tile-colour", themeColour(themes, e.dataset.theme)));
  const legend = $("scene-legend");
  legend.replaceChildren(...(geojson.summary || []).map((s) => {
    const item = document.createElement("li");
    item.style.setProperty("--tile-colour", themes.get(s.theme));
    item.textContent = `${s.theme}: ${(100 * s.share).toFixed(1)} % (${s.tiles} ${s.tiles === 1 ? "tile" : "tiles"})`;
    return item;
  }));
}

async function pollScene() {
  if (!sceneJob) return;
  try {
    const response = await fetch(sceneJob, { headers: apiHeaders() });
    if (!response.ok) { showError(await failure(response)); stopScene(); return; }
    const job = await response.json();
    const where = job.source_crs ? `${job.source_crs}` : "pixel coordinates";
    $("scene-status").textContent = `${job.file}: ${job.width}×${job.height} px, ${where} · ${job.done}/${job.tiles} tiles · ${job.status}` +
      (job.failed ? ` · ${job.failed} failed` : "") + (job.error ? ` · ${job.error}` : "");
    $("scene-status").dataset.status = job.status;
    if (job.preview && !$("scene-preview").src) {
      // Fetched with the API key (an <img> could not send it), shown from memory.
      const preview = await fetch(job.preview.replace(/^\//, ""), { headers: apiHeaders() });
      if (preview.ok) { $("scene-preview").src = URL.createObjectURL(await preview.blob()); $("scene-view").hidden = false; }
    }
    const geojson = await (await fetch(job.geojson.replace(/^\//, ""), { headers: apiHeaders() })).json();
    drawScene(job, geojson);
    if (job.status === "queued" || job.status === "running") sceneTimer = setTimeout(pollScene, 700);
    else stopScene();
  } catch {
    showError(explain(0));
    stopScene();
  }
}

function stopScene() {
  clearTimeout(sceneTimer);
  $("scene-cancel").hidden = true;
  $("scene-button").disabled = false;
}

async function captionScene(file, name) {
  showError("");
  stopScene();
  $("scene-grid").replaceChildren();
  $("scene-legend").replaceChildren();
  $("scene-tile-caption").textContent = "";
  $("scene-preview").removeAttribute("src");
  $("scene-view").hidden = true;
  $("scene-button").disabled = true;
  $("scene-status").textContent = `uploading ${name}…`;
  const tile = $("scene-tile").value;
  try {
    const response = await fetch(`v1/scenes?tile=${tile}&name=${encodeURIComponent(name)}`, { method: "POST", body: file, headers: apiHeaders() });
    if (!response.ok) { showError(await failure(response)); $("scene-status").textContent = ""; stopScene(); return; }
    sceneJob = response.headers.get("Location").replace(/^\//, "");
    $("scene-cancel").hidden = false;
    pollScene();
  } catch {
    showError(explain(0));
    stopScene();
  }
}

async function wireScenes() {
  $("scene-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const file = $("scene-input").files[0];
    if (!file) { showError("Choose a scene file first."); return; }
    captionScene(file, file.name);
  });
  $("scene-cancel").addEventListener("click", async () => {
    if (sceneJob) await fetch(sceneJob, { method: "DELETE", headers: apiHeaders() });
  });
  try {
    const samples = await (await fetch("v1/samples", { headers: apiHeaders() })).json();
    const scene = (samples.scenes || [])[0];
    if (scene) {
      $("scene-sample").hidden = false;
      $("scene-sample").addEventListener("click", async () => captionScene(await (await fetch(scene.url)).blob(), `${scene.name}.tif`));
    }
  } catch { /* no samples: the button stays hidden */ }
}

document.addEventListener("DOMContentLoaded", () => {
  $("api-key").value = sessionStorage.getItem("rsmoe-api-key") || "";
  $("api-key").addEventListener("change", () => { sessionStorage.setItem("rsmoe-api-key", $("api-key").value.trim()); refreshExperts(); });
  wireImageInput();
  loadSamples();
  refreshExperts();
  setInterval(refreshExperts, 10000);
  $("caption-form").addEventListener("submit", caption);
  $("ask-form").addEventListener("submit", ask);
  wireScenes();
});
