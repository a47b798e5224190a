// The engine's web chat: streams replies from /v1/chat/completions (or /v1/completions) and draws the
// KV cache each reply reports in its `kv` object. Plain JavaScript, no build step, nothing from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const conversation = [];
let controller = null;
let modelId = null;

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api_key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function checkHealth() {
  const pill = $("health");
  try {
    const r = await fetch("health");
    const body = await r.json();
    pill.textContent = r.ok ? "ready" : (body.error && body.error.message) || "unavailable";
    pill.className = "pill " + (r.ok ? "ok" : "bad");
    if (r.ok && !modelId) await loadModel();
  } catch (e) {
    pill.textContent = "offline";
    pill.className = "pill bad";
  }
}

async function loadModel() {
  const r = await fetch("v1/models", { headers: headers() });
  if (!r.ok) return;
  const body = await r.json();
  modelId = body.data[0].id;
  $("model").textContent = modelId + " · context " + body.data[0].max_model_len;
}

function numberField(id) {
  const v = $(id).value.trim();
  return v === "" ? undefined : Number(v);
}

function kvPolicy() {
  const policy = $("kv_policy").value;
  if (!policy) return undefined;
  if (policy === "full") return { policy: "full" };
  const ratio = $("kv_ratio").value.trim();
  return {
    policy,
    ratio: /^[0-9.]+$/.test(ratio) ? Number(ratio) : ratio,
    lag_size: numberField("kv_lag"),
    sink_size: numberField("kv_sink"),
    mode: $("kv_mode").value,
  };
}

function requestBody(userText) {
  const body = {
    model: modelId || undefined,
    stream: true,
    stream_options: { include_usage: true, include_kv: true },
    max_tokens: numberField("max_tokens"),
    temperature: numberField("temperature"),
    top_p: numberField("top_p"),
    top_k: numberField("top_k"),
    min_p: numberField("min_p"),
    repetition_penalty: numberField("repetition_penalty"),
    seed: numberField("seed"),
    kv_policy: kvPolicy(),
  };
  if ($("mode").value === "chat") {
    const system = $("system").value.trim();
    body.messages = (system ? [{ role: "system", content: system }] : []).concat(conversation);
  } else {
    body.prompt = conversation.map((m) => m.content).join("");
  }
  return body;
}

function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = "message " + role;
  div.dataset.role = role;
  const label = document.createElement("span");
  label.className = "role";
  label.textContent = role;
  const span = document.createElement("span");
  span.className = "text";
  span.textContent = text;
  div.append(label, span);
  $("messages").append(div);
  $("messages").scrollTop = $("messages").scrollHeight;
  return span;
}

// Reads `data: ...` events off a fetch body; calls onEvent with each payload (a string).
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
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (event.startsWith("data: ")) onEvent(event.slice(6));
    }
  }
}

async function send(text) {
  const chat = $("mode").value === "chat";
  conversation.push({ role: "user", content: text });
  addMessage("user", text);
  const out = addMessage("assistant", "");
  let reply = "";
  let tokens = 0;
  controller = new AbortController();
  setBusy(true);
  const started = performance.now();
  let firstToken = null;
  try {
    const r = await fetch(chat ? "v1/chat/completions" : "v1/completions", {
      method: "POST", headers: headers(), body: JSON.stringify(requestBody(text)), signal: controller.signal,
    });
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      throw new Error((body.error && body.error.message) || r.status + " " + r.statusText);
    }
    await readEvents(r, (data) => {
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new Error(chunk.error.message);
      for (const choice of chunk.choices) {
        const piece = chat ? (choice.delta && choice.delta.content) || "" : choice.text || "";
        if (piece) {
          firstToken = firstToken || performance.now();
          reply += piece;
          tokens++;
          out.textContent = reply;
          $("messages").scrollTop = $("messages").scrollHeight;
          $("status").textContent = "generating… " + tokens + " chunks";
        }
      }
      if (chunk.kv) drawKv(chunk.kv);
      if (chunk.usage) {
        const seconds = (performance.now() - started) / 1000;
        const ttft = firstToken ? ((firstToken - started) / 1000).toFixed(2) + " s to first token, " : "";
        $("status").textContent = chunk.usage.prompt_tokens + " prompt + " + chunk.usage.completion_tokens +
          " generated tokens; " + ttft + (chunk.usage.completion_tokens / seconds).toFixed(1) + " tokens/s";
      }
    });
    conversation.push({ role: "assistant", content: reply });
  } catch (e) {
    if (e.name === "AbortError") {
      conversation.push({ role: "assistant", content: reply });
      $("status").textContent = "stopped";
    } else {
      conversation.pop();
      out.parentElement.classList.add("error");
      out.textContent = e.message;
      $("status").textContent = "";
    }
  } finally {
    setBusy(false);
    controller = null;
  }
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").disabled = !busy;
}

function formatBytes(n) {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

// One bar per layer: the light bar is the tokens the layer saw, the dark bar the slots it kept;
// white ticks mark page boundaries of the kept slots.
function drawKv(kv) {
  $("kv-summary").textContent = "policy " + kv.policy + " · " + kv.logical_length + " tokens · ratio " +
    kv.compression_ratio.toFixed(2) + "x · " + formatBytes(kv.bytes_saved) + " saved · " + kv.pages_used +
    " pages of " + kv.page_size + " slots";
  const box = $("kv-layers");
  box.replaceChildren();
  const scale = Math.max(1, ...kv.layers.map((l) => l.logical_length));
  kv.layers.forEach((layer, i) => {
    const row = document.createElement("div");
    row.className = "layer";
    row.dataset.logical = layer.logical_length;
    row.dataset.physical = layer.physical_length;
    const name = document.createElement("span");
    name.textContent = "L" + i;
    const bar = document.createElement("div");
    bar.className = "bar";
    const logical = document.createElement("div");
    logical.className = "logical";
    logical.style.width = (100 * layer.logical_length / scale) + "%";
    const physical = document.createElement("div");
    physical.className = "physical";
    physical.style.width = (100 * layer.physical_length / scale) + "%";
    bar.append(logical, physical);
    for (let p = 1; p < layer.pages; p++) {
      const tick = document.createElement("div");
      tick.className = "page";
      tick.style.left = (100 * p * kv.page_size / scale) + "%";
      bar.append(tick);
    }
    const numbers = document.createElement("span");
    numbers.textContent = layer.physical_length + "/" + layer.logical_length;
    numbers.title = layer.pages + " pages";
    row.append(name, bar, numbers);
    box.append(row);
  });
}

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("input").value;
  if (!text.trim() || controller) return;
  $("input").value = "";
  send(text);
});
$("input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("composer").requestSubmit(); }
});
$("stop").addEventListener("click", () => controller && controller.abort());
$("clear").addEventListener("click", () => {
  conversation.length = 0;
  $("messages").replaceChildren();
  $("kv-layers").replaceChildren();
  $("kv-summary").textContent = "No reply yet.";
});

checkHealth();
setInterval(checkHealth, 5000);
