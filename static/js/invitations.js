// Invitations: the Bluesky picker and the live progress page. No framework, no build step.
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function fetchJSON(url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign({ "Accept": "application/json" }, options.headers || {});
    if (options.body) {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = csrfToken();
    }
    return fetch(url, options).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.message || data.detail || ("HTTP " + response.status)); }
        return data;
      });
    });
  }

  // ---- Picker -------------------------------------------------------------------------
  // Words this script shows, in the page's language: the root's data-w-* attributes
  // (templates/invitations/picker.html, progress.html), English when one is missing.
  function word(root, name, fallback, values) {
    var text = root.dataset["w" + name] || fallback;
    return text.replace(/\{(\w+)\}/g, function (m, key) { return values && key in values ? values[key] : m; });
  }

  function initPicker(root) {
    var tabs = { followers: { pages: [], cursors: [null], done: false }, follows: { pages: [], cursors: [null], done: false } };
    var current = "followers";
    var pageIndex = 0;
    var selected = new Map(); // did -> profile
    var el = function (id) { return document.getElementById(id); };
    var errorBox = el("picker-error");

    function showError(message) { errorBox.textContent = message; errorBox.hidden = !message; }

    function loadPage(kind, index) {
      var state = tabs[kind];
      if (state.pages[index]) { return Promise.resolve(state.pages[index]); }
      var cursor = state.cursors[index];
      var url = root.dataset.graphUrl + kind + "/?limit=" + encodeURIComponent(root.dataset.pageSize || "100") +
        (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      return fetchJSON(url).then(function (data) {
        state.pages[index] = data.profiles;
        if (typeof data.remaining_today === "number") {
          el("remaining-today").textContent = word(root, "Remaining", "You can invite {n} more today", { n: data.remaining_today });
        }
        if (data.cursor) { state.cursors[index + 1] = data.cursor; } else { state.done = true; }
        return data.profiles;
      });
    }

    function loadAll(kind) {
      var state = tabs[kind];
      var next = function (i) {
        return loadPage(kind, i).then(function () {
          if (state.cursors[i + 1] && !state.pages[i + 1]) { return next(i + 1); }
        });
      };
      return next(0);
    }

    function visibleProfiles() {
      var query = el("picker-search").value.trim().toLowerCase();
      var state = tabs[current];
      // Searching looks through every page loaded so far; otherwise show the current page.
      var source = query ? [].concat.apply([], state.pages.filter(Boolean)) : (state.pages[pageIndex] || []);
      if (!query) { return source; }
      return source.filter(function (p) {
        return p.handle.toLowerCase().indexOf(query) >= 0 || (p.display_name || "").toLowerCase().indexOf(query) >= 0;
      });
    }

    function render() {
      var list = el("people");
      list.textContent = "";
      visibleProfiles().forEach(function (p) {
        var li = document.createElement("li");
        li.className = "person";
        li.dataset.did = p.did;
        var label = document.createElement("label");
        var box = document.createElement("input");
        box.type = "checkbox";
        box.value = p.did;
        box.checked = selected.has(p.did);
        box.disabled = Boolean(p.invited) || p.invitable === false;
        box.addEventListener("change", function () {
          if (box.checked) { selected.set(p.did, p); } else { selected.delete(p.did); }
          updateSelection();
        });
        label.appendChild(box);
        if (p.avatar_url) {
          var img = document.createElement("img");
          img.src = p.avatar_url; img.alt = ""; img.width = 40; img.height = 40; img.loading = "lazy";
          img.referrerPolicy = "no-referrer";
          label.appendChild(img);
        } else {
          var initial = document.createElement("span");
          initial.className = "avatar-placeholder";
          initial.textContent = (p.display_name || p.handle).charAt(0).toUpperCase();
          label.appendChild(initial);
        }
        var name = document.createElement("span");
        name.className = "person-text name";
        if (p.display_name) {
          var display = document.createElement("span");
          display.className = "person-name";
          display.textContent = p.display_name + " ";
          name.appendChild(display);
        }
        var handle = document.createElement("span");
        handle.className = "person-handle";
        handle.textContent = "@" + p.handle;
        name.appendChild(handle);
        label.appendChild(name);
        if (p.invited) {
          var mark = document.createElement("span");
          mark.className = "invited";
          mark.textContent = word(root, "Invited", "already invited: {status}", { status: p.invited });
          label.appendChild(mark);
        } else if (p.invitable === false) {
          var why = document.createElement("span");
          why.className = "reason";
          why.textContent = p.reason_text || p.reason;
          label.appendChild(why);
        }
        li.appendChild(label);
        list.appendChild(li);
      });
      var state = tabs[current];
      el("page-label").textContent = word(root, "Page", "Page {n}", { n: pageIndex + 1 });
      el("prev-page").disabled = pageIndex === 0;
      el("next-page").disabled = !state.cursors[pageIndex + 1];
    }

    var previewTimer = null;
    function updateSelection() {
      el("selected-count").textContent = word(root, "Selected", "{n} selected", { n: selected.size });
      el("send").disabled = selected.size === 0;
      clearTimeout(previewTimer);
      previewTimer = setTimeout(preview, 200);
    }

    // The message as a post, before anyone is picked: the braces filled with an example person's
    // details here; once someone is picked, the server's exact post (shortened as it will be).
    function samplePost() {
      var d = root.dataset;
      var values = { mention: "@their.handle", name: d.sampleName, date: d.sampleDate, link: d.sampleLink };
      var text = el("message").value.trim() || el("message").defaultValue;
      return text.replace(/\{(mention|name|date|link)\}/g, function (_m, key) { return values[key]; });
    }

    // The post's language, and the message: the unchanged default is sent empty, so the server
    // writes its default wording in that language.
    function postLanguage() { return el("message-language") ? el("message-language").value : ""; }
    function messageText() {
      var box = el("message");
      return box.value === box.defaultValue ? "" : box.value;
    }

    function preview() {
      var first = selected.values().next().value;
      if (!first) { el("preview").textContent = samplePost(); return; }
      fetchJSON(root.dataset.previewUrl, {
        method: "POST",
        body: JSON.stringify({ message: messageText(), language: postLanguage(), did: first.did, handle: first.handle })
      }).then(function (data) {
        // The server marks the link's code PREVIEW: each person's own code goes there.
        el("preview").textContent = data.text.replace(/invitation=PREVIEW/g, "invitation=…");
        el("preview-account").textContent = data.account
          ? (data.account.kind === "relay"
            ? word(root, "PostedRelay", "Posted from @{handle} (Elonara's account, Elonara's wording)", { handle: data.account.handle })
            : word(root, "PostedOwn", "Posted from @{handle} (your account)", { handle: data.account.handle }))
          : word(root, "NoAccount", "You have no Bluesky account Elonara can post with yet.");
        showError("");
      })
        .catch(function (err) { showError(err.message); });
    }

    function show(kind, index) {
      current = kind; pageIndex = index;
      document.querySelectorAll("[data-tab]").forEach(function (b) {
        b.setAttribute("aria-selected", String(b.dataset.tab === kind));
      });
      return loadPage(kind, index).then(render).then(function () { showError(""); })
        .catch(function (err) { showError(err.message); });
    }

    document.querySelectorAll("[data-tab]").forEach(function (b) {
      b.addEventListener("click", function () { show(b.dataset.tab, 0); });
    });
    el("next-page").addEventListener("click", function () { show(current, pageIndex + 1); });
    el("prev-page").addEventListener("click", function () { show(current, Math.max(pageIndex - 1, 0)); });
    el("picker-search").addEventListener("input", function () {
      // A search covers every page: fetch the rest first.
      loadAll(current).then(render).catch(function (err) { showError(err.message); });
      render();
    });
    el("load-all").addEventListener("click", function () {
      loadAll(current).then(function () { el("picker-search").value = el("picker-search").value || ""; render(); })
        .catch(function (err) { showError(err.message); });
    });
    el("message").addEventListener("input", function () {
      clearTimeout(previewTimer);
      previewTimer = setTimeout(preview, 250);
    });
    document.querySelectorAll("#message-chips [data-insert]").forEach(function (chip) {
      chip.addEventListener("click", function () {
        var box = el("message");
        var at = box.selectionStart === undefined ? box.value.length : box.selectionStart;
        var end = box.selectionEnd === undefined ? at : box.selectionEnd;
        var word = chip.dataset.insert;
        box.value = box.value.slice(0, at) + word + box.value.slice(end);
        box.focus();
        box.setSelectionRange(at + word.length, at + word.length);
        preview();
      });
    });
    el("select-all").addEventListener("click", function () {
      visibleProfiles().forEach(function (p) { if (!p.invited && p.invitable !== false) { selected.set(p.did, p); } });
      render(); updateSelection();
    });
    el("message").addEventListener("input", updateSelection);
    if (el("message-language")) { el("message-language").addEventListener("change", preview); }
    el("send").addEventListener("click", function () {
      el("send").disabled = true;
      fetchJSON(root.dataset.createUrl, {
        method: "POST",
        body: JSON.stringify({ message: messageText(), language: postLanguage(), dids: Array.from(selected.keys()) })
      }).then(function (data) {
        if (data.progress_url) { window.location.assign(data.progress_url); return; }
        var why = Object.values(data.skipped_text || data.skipped || {});
        showError(word(root, "Nobody", "Nobody could be invited: {reasons}", { reasons: Array.from(new Set(why)).join("; ") }));
        el("send").disabled = false;
      }).catch(function (err) { showError(err.message); el("send").disabled = false; });
    });
    show("followers", 0);
  }

  // ---- Progress -----------------------------------------------------------------------
  function initProgress(root) {
    var el = function (id) { return document.getElementById(id); };
    function tick() {
      fetchJSON(root.dataset.statusUrl).then(function (data) {
        el("progress-bar").max = data.total;
        el("progress-bar").value = data.sent + data.failed;
        el("count-sent").textContent = data.sent;
        el("count-failed").textContent = data.failed;
        el("count-waiting").textContent = data.waiting;
        el("count-total").textContent = data.total;
        var list = el("failures");
        list.textContent = "";
        if (!data.failures.length) {
          var none = document.createElement("li"); none.className = "none"; none.textContent = word(root, "None", "None."); list.appendChild(none);
        }
        data.failures.forEach(function (f) {
          var li = document.createElement("li");
          li.textContent = "@" + f.handle + ": " + f.reason;
          list.appendChild(li);
        });
        el("progress-done").hidden = !data.done;
        el("retry-failed-form").hidden = !data.failed;  // offered only when something failed
        if (!data.done) { setTimeout(tick, 1000); }
      }).catch(function () { setTimeout(tick, 3000); });
    }
    tick();
  }

  var picker = document.getElementById("invite-picker");
  if (picker) { initPicker(picker); }
  var progress = document.getElementById("invite-progress");
  if (progress) { initProgress(progress); }
})();
