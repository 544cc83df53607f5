// Passkeys (WebAuthn): register one on the security page, sign in with one on the login
// and second-step pages. Buttons: <button data-passkey="register|login" data-csrf
// data-options-url data-submit-url data-error-text>. The server (py_webauthn) sends the
// options as WebAuthn JSON with base64url binaries; they are converted here by hand,
// which also works in browsers without PublicKeyCredential.parseCreationOptionsFromJSON.
"use strict";

(function () {
  if (!window.PublicKeyCredential) {
    document.querySelectorAll("[data-passkey]").forEach(function (button) { button.hidden = true; });
    return;
  }

  function toBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var text = atob(base64);
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) { bytes[i] = text.charCodeAt(i); }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) { text += String.fromCharCode(bytes[i]); }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBytes(descriptors) {
    return (descriptors || []).map(function (d) {
      return Object.assign({}, d, { id: toBytes(d.id) });
    });
  }

  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error((data.error && data.error.code) || "ERROR"); }
        return data;
      });
    });
  }

  function register(options) {
    var key = options.public_key;
    key.challenge = toBytes(key.challenge);
    key.user = Object.assign({}, key.user, { id: toBytes(key.user.id) });
    key.excludeCredentials = withBytes(key.excludeCredentials);
    return navigator.credentials.create({ publicKey: key }).then(function (credential) {
      var response = credential.response;
      var nameInput = document.querySelector("[data-passkey-name]");
      return {
        challenge_id: options.challenge_id,
        name: nameInput ? nameInput.value.trim().slice(0, 100) : "",
        credential: {
          id: credential.id,
          rawId: toBase64url(credential.rawId),
          type: credential.type,
          response: {
            clientDataJSON: toBase64url(response.clientDataJSON),
            attestationObject: toBase64url(response.attestationObject),
            transports: response.getTransports ? response.getTransports() : []
          }
        }
      };
    });
  }

  function authenticate(options) {
    var key = options.public_key;
    key.challenge = toBytes(key.challenge);
    key.allowCredentials = withBytes(key.allowCredentials);
    return navigator.credentials.get({ publicKey: key }).then(function (credential) {
      var response = credential.response;
      var answer = {
        clientDataJSON: toBase64url(response.clientDataJSON),
        authenticatorData: toBase64url(response.authenticatorData),
        signature: toBase64url(response.signature)
      };
      if (response.userHandle) { answer.userHandle = toBase64url(response.userHandle); }
      return {
        challenge_id: options.challenge_id,
        credential: { id: credential.id, rawId: toBase64url(credential.rawId), type: credential.type, response: answer }
      };
    });
  }

  document.querySelectorAll("[data-passkey]").forEach(function (button) {
    button.addEventListener("click", function () {
      var csrf = button.getAttribute("data-csrf");
      var error = document.querySelector("[data-passkey-error]");
      var ceremony = button.getAttribute("data-passkey") === "register" ? register : authenticate;
      if (error) { error.textContent = ""; }
      button.disabled = true;
      post(button.getAttribute("data-options-url"), csrf)
        .then(ceremony)
        .then(function (body) { return post(button.getAttribute("data-submit-url"), csrf, body); })
        .then(function (data) { window.location.assign(data.redirect || "/"); })
        .catch(function () {
          if (error) { error.textContent = button.getAttribute("data-error-text"); }
          button.disabled = false;
        });
    });
  });
})();
