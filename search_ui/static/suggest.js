/* Search-box suggestions (联想): index words offered as you type, in Chinese or pinyin.
   A static file (the Content-Security-Policy allows no inline script). Without JavaScript,
   or when /api/suggest fails, the search box is a plain form. */
(function () {
  "use strict";
  var input = document.getElementById("q");
  if (!input || !window.fetch) { return; }
  var form = input.form;
  var list = document.createElement("ul");
  list.id = "q-suggest";
  list.className = "suggest";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "搜索建议");
  list.hidden = true;
  form.appendChild(list);
  input.setAttribute("autocomplete", "off");
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", list.id);
  input.setAttribute("aria-expanded", "false");
  var active = -1, timer = 0, latest = 0, composing = false, whole = false;

  function close() {
    list.hidden = true;
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function choose(word) {
    var text = input.value, cut = whole ? 0 : text.search(/\S+$/);
    input.value = (cut > 0 ? text.slice(0, cut) : "") + word;  // what is being typed is replaced
    close();
    form.submit();
  }

  function show(words) {
    list.textContent = "";
    words.forEach(function (word, i) {
      var item = document.createElement("li");
      item.id = "q-suggest-" + i;
      item.setAttribute("role", "option");
      item.textContent = word;  // text, never markup
      item.addEventListener("mousedown", function (e) { e.preventDefault(); choose(word); });
      list.appendChild(item);
    });
    active = -1;
    list.hidden = words.length === 0;
    input.setAttribute("aria-expanded", words.length ? "true" : "false");
  }

  function highlight(i) {
    var items = list.children;
    if (!items.length) { return; }
    active = (i + items.length) % items.length;
    for (var k = 0; k < items.length; k++) { items[k].setAttribute("aria-selected", k === active ? "true" : "false"); }
    input.setAttribute("aria-activedescendant", items[active].id);
  }

  function ask() {
    var words = input.value.trim().split(/\s+/), last = words[words.length - 1] || "";
    whole = /^[a-z' ]+$/i.test(input.value.trim());  // pinyin may be typed with spaces: all of it is one word
    if (whole) { last = input.value.trim(); }
    if (!last || last.length > 40) { close(); return; }
    var ticket = ++latest;
    fetch(form.getAttribute("data-suggest") + "?q=" + encodeURIComponent(last), {headers: {Accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : {suggestions: []}; })
      .then(function (data) { if (ticket === latest && !composing) { show(data.suggestions || []); } })
      .catch(close);
  }

  input.addEventListener("compositionstart", function () { composing = true; });
  input.addEventListener("compositionend", function () { composing = false; ask(); });
  input.addEventListener("input", function () {
    if (composing) { return; }  // an IME is still composing: wait for the characters
    clearTimeout(timer);
    timer = setTimeout(ask, 120);
  });
  input.addEventListener("keydown", function (e) {
    if (list.hidden) { return; }
    if (e.key === "ArrowDown") { e.preventDefault(); highlight(active + 1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); highlight(active - 1); }
    else if (e.key === "Escape") { close(); }
    else if (e.key === "Enter" && active >= 0) { e.preventDefault(); choose(list.children[active].textContent); }
  });
  input.addEventListener("blur", close);
})();
