// Live length and segment count of the SMS on the rule form: 70 characters in one message, 67 per
// part beyond that. The sentence comes translated in the counter's data-template.
(function () {
  "use strict";
  var area = document.querySelector("[data-sms-counter]");
  var out = document.getElementById("sms-count");
  if (!area || !out) return;
  var template = out.dataset.template;
  function update() {
    var length = Array.from("【" + out.dataset.signature + "】" + area.value + out.dataset.optOut).length;
    var parts = length <= 70 ? 1 : Math.ceil(length / 67);
    out.textContent = template.replace("%(length)s", length).replace("%(parts)s", parts);
    out.dataset.length = length;
    out.dataset.parts = parts;
  }
  area.addEventListener("input", update);
  update();
})();
