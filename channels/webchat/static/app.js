"use strict";
// CivicDesk web chat. The session is an HttpOnly cookie set by the server; this script never
// sees or sends an identity. Bot text is always inserted as text, never as HTML.
(function () {
  const base = window.location.pathname.replace(/\/?$/, "/");
  // Messages go into the list inside the live region (#log).
  const log = document.getElementById("messages");
  const status = document.getElementById("status");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const largeText = document.getElementById("large-text");
  const shareLocation = document.getElementById("share-location");
  const photo = document.getElementById("photo");
  // The page's texts in the citizen's language, put into the page by the server.
  const text = JSON.parse(document.getElementById("page-text").textContent);

  function newId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  function say(text, who) {
    const item = document.createElement("li");
    item.className = who;
    item.textContent = text;
    log.appendChild(item);
    item.scrollIntoView({ block: "end" });
    return item;
  }

  function showBot(messages) {
    for (const message of messages) {
      const item = say(message.text || "", "bot");
      if (message.image) {
        const image = document.createElement("img");
        image.src = message.image;
        image.alt = text.page_image_alt;
        item.appendChild(image);
      }
      if (message.buttons && message.buttons.length) {
        const group = document.createElement("div");
        group.className = "choices";
        group.setAttribute("role", "group");
        group.setAttribute("aria-label", text.page_choices);
        for (const choice of message.buttons) {
          const button = document.createElement("button");
          button.type = "button";
          button.textContent = choice.title;
          button.addEventListener("click", function () {
            if (choice.payload === "/share_location") { sendLocation(); return; }
            send({ payload: choice.payload, message: choice.title }, choice.title);
            input.focus();
          });
          group.appendChild(button);
        }
        item.appendChild(group);
      }
    }
  }

  async function call(path, init, quiet) {
    if (!quiet) { status.textContent = ""; }
    try {
      const response = await fetch(base + path, Object.assign({
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CivicDesk-Webchat": "1" },
      }, init));
      const body = await response.json().catch(function () { return {}; });
      if (!response.ok) {
        if (!quiet) {
          status.textContent = (body.error && body.error.description) ||
            text.page_error;
        }
        return null;
      }
      return body;
    } catch (error) {
      if (!quiet) { status.textContent = text.page_offline; }
      return null;
    }
  }

  async function send(fields, shownText) {
    say(shownText, "citizen");
    const body = await call("message", {
      method: "POST",
      body: JSON.stringify(Object.assign({ client_message_id: newId() }, fields)),
    });
    if (body) { showBot(body.messages); }
  }

  function sendLocation() {
    if (!navigator.geolocation) {
      status.textContent = text.page_no_geolocation;
      return;
    }
    navigator.geolocation.getCurrentPosition(async function (position) {
      say(text.page_location_shared, "citizen");
      const body = await call("location", {
        method: "POST",
        body: JSON.stringify({
          client_message_id: newId(),
          latitude: position.coords.latitude,
          longitude: position.coords.longitude,
        }),
      });
      if (body) { showBot(body.messages); }
    }, function () {
      status.textContent = text.page_location_failed;
    }, { enableHighAccuracy: true, timeout: 15000 });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    send({ message: text }, text);
  });

  shareLocation.addEventListener("click", sendLocation);

  photo.addEventListener("change", async function () {
    const file = photo.files && photo.files[0];
    if (!file) { return; }
    const data = new FormData();
    data.append("photo", file);
    data.append("client_message_id", newId());
    say(text.page_photo_sent.replace("{name}", file.name), "citizen");
    status.textContent = "";
    try {
      const response = await fetch(base + "photo", {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CivicDesk-Webchat": "1" },
      });
      const body = await response.json().catch(function () { return {}; });
      if (!response.ok) {
        status.textContent = (body.error && body.error.description) || text.page_photo_not_sent;
      } else {
        showBot(body.messages);
      }
    } catch (error) {
      status.textContent = text.page_offline;
    }
    photo.value = "";
  });

  function applyLargeText(on) {
    document.documentElement.classList.toggle("large-text", on);
    largeText.setAttribute("aria-pressed", on ? "true" : "false");
  }
  largeText.addEventListener("click", function () {
    const on = largeText.getAttribute("aria-pressed") !== "true";
    applyLargeText(on);
    try { window.localStorage.setItem("civicdesk-large-text", on ? "1" : "0"); } catch (e) {}
  });
  try { applyLargeText(window.localStorage.getItem("civicdesk-large-text") === "1"); } catch (e) {}

  // Status updates from staff arrive while the page is open.
  async function poll() {
    const body = await call("updates", { method: "GET" }, true);
    if (body && body.messages.length) { showBot(body.messages); }
  }
  window.setInterval(poll, 5000);
})();
