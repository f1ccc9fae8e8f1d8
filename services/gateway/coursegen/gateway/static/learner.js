/* The learner's course page: each checked quiz is sent to the server, which scores it against the published
   version and records the attempt; a pass completes the module. Listens to the course player's events. */
(function () {
  "use strict";
  var page = document.getElementById("learner-course");
  if (!page) { return; }
  var base = page.getAttribute("data-quiz-url");
  var csrf = page.getAttribute("data-csrf");

  function answersOf(module, state) {
    var form = document.querySelector("form.cg-quiz[data-module='" + module + "']");
    var count = form ? form.querySelectorAll("fieldset.cg-question").length : 0;
    var answers = [];
    for (var q = 0; q < count; q += 1) {
      var given = state.answers["m" + (module + 1) + "-q" + (q + 1)];
      answers.push(given === null || given === undefined ? -1 : given);
    }
    return { form: form, answers: answers };
  }

  document.addEventListener("coursegen:change", function (event) {
    var detail = event.detail || {};
    if (detail.kind !== "quiz") { return; }
    var module = detail.module;
    var found = answersOf(module, detail.state);
    var note = found.form ? found.form.querySelector(".cg-saved") : null;
    if (found.form && !note) {
      note = document.createElement("p");
      note.className = "cg-saved";
      note.setAttribute("role", "status");
      found.form.appendChild(note);
    }
    if (note) { note.textContent = "Saving your attempt…"; }
    fetch(base + module + "/quiz", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ answers: found.answers })
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    }).then(function (result) {
      var percent = Math.round(result.score * 100);
      if (note) {
        note.textContent = "Attempt saved: " + result.correct + " of " + result.total + " (" + percent + "%). " +
          (result.passed ? "Passed: the module is complete." : "The pass mark is " + result.pass_mark + "%: try again.");
      }
      var status = document.getElementById("status-" + (module + 1));
      if (status && result.passed) { status.textContent = "completed"; status.className = "status s-completed"; }
      var best = document.getElementById("best-" + (module + 1));
      if (best) {
        var before = parseInt(best.getAttribute("data-percent") || "-1", 10);
        if (percent > before) { best.setAttribute("data-percent", String(percent)); best.textContent = percent + "%"; }
      }
    }).catch(function () {
      if (note) { note.textContent = "Your attempt could not be saved. Check your connection and check the answers again."; }
    });
  });
})();
