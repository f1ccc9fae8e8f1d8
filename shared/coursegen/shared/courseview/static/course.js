/* coursegen course player: the quiz, and in player mode one page at a time with a bookmark.
   No dependencies. Exposes window.CourseGen for run-time adapters (SCORM, xAPI), and fires
   a "coursegen:change" event on the document after every change a learner makes. */
(function () {
  "use strict";
  var root = document.querySelector(".cg-course");
  if (!root) { return; }
  var paged = root.hasAttribute("data-paged");
  var passMark = parseInt(root.getAttribute("data-pass-mark") || "80", 10);
  var pages = Array.prototype.slice.call(root.querySelectorAll("[data-page]"));
  var quizzes = Array.prototype.slice.call(root.querySelectorAll("form.cg-quiz"));
  var state = { page: pages.length ? pages[0].id : "", visited: [], answers: {}, checked: [] };

  function fire(kind, extra) {
    var detail = { kind: kind, state: snapshot(), summary: summary() };
    for (var key in (extra || {})) { detail[key] = extra[key]; }
    document.dispatchEvent(new CustomEvent("coursegen:change", { detail: detail }));
  }

  function snapshot() { return JSON.parse(JSON.stringify(state)); }

  function questionsOf(form) { return Array.prototype.slice.call(form.querySelectorAll("fieldset.cg-question")); }

  function chosen(fieldset) {
    var input = fieldset.querySelector("input[type=radio]:checked");
    return input ? parseInt(input.value, 10) : null;
  }

  function letter(i) { return String.fromCharCode(97 + i); }

  function summary() {
    var questions = 0, correct = 0, interactions = [];
    quizzes.forEach(function (form) {
      var checked = state.checked.indexOf(form.getAttribute("data-module")) >= 0;
      questionsOf(form).forEach(function (fs) {
        questions += 1;
        var id = fs.getAttribute("data-question-id");
        var answer = parseInt(fs.getAttribute("data-answer"), 10);
        var given = state.answers[id];
        if (checked && given === answer) { correct += 1; }
        if (checked && given !== undefined && given !== null) {
          interactions.push({
            id: id, type: "choice", response: letter(given), correctResponse: letter(answer),
            result: given === answer ? "correct" : "incorrect",
            description: fs.getAttribute("data-question-text") || ""
          });
        }
      });
    });
    var allChecked = quizzes.length > 0 && state.checked.length >= quizzes.length;
    var visitedAll = pages.length === 0 || state.visited.length >= pages.length;
    var percent = questions ? Math.round(100 * correct / questions) : 0;
    var success = allChecked ? (percent >= passMark ? "passed" : "failed") : "unknown";
    var completed = quizzes.length ? allChecked : visitedAll;
    return {
      questions: questions, correct: correct, percent: percent, passMark: passMark, hasQuiz: quizzes.length > 0,
      quizzesChecked: state.checked.length, quizzes: quizzes.length, success: success, completed: completed,
      visited: state.visited.length, pages: pages.length, location: state.page, interactions: interactions
    };
  }

  function showPage(id, quiet) {
    if (!paged) { return; }
    var found = false;
    pages.forEach(function (page) {
      var on = page.id === id;
      found = found || on;
      page.hidden = !on;
    });
    if (!found && pages.length) { id = pages[0].id; pages[0].hidden = false; }
    state.page = id;
    if (state.visited.indexOf(id) < 0) { state.visited.push(id); }
    var index = pages.map(function (p) { return p.id; }).indexOf(id);
    var prev = root.querySelector("[data-nav=prev]"), next = root.querySelector("[data-nav=next]");
    if (prev) { prev.disabled = index <= 0; }
    if (next) { next.disabled = index >= pages.length - 1; }
    var where = root.querySelector(".cg-where");
    if (where) { where.textContent = "Page " + (index + 1) + " of " + pages.length; }
    Array.prototype.forEach.call(root.querySelectorAll(".cg-toc a"), function (a) {
      if (a.getAttribute("href") === "#" + id) { a.setAttribute("aria-current", "page"); }
      else { a.removeAttribute("aria-current"); }
    });
    if (!quiet) { window.scrollTo(0, 0); fire("page", { page: id }); }
  }

  function grade(form, quiet) {
    var module = form.getAttribute("data-module");
    var right = 0, all = questionsOf(form);
    all.forEach(function (fs) {
      var id = fs.getAttribute("data-question-id");
      var answer = parseInt(fs.getAttribute("data-answer"), 10);
      var given = chosen(fs);
      state.answers[id] = given;
      var ok = given === answer;
      if (ok) { right += 1; }
      var feedback = fs.querySelector(".cg-feedback");
      if (feedback) {
        feedback.hidden = false;
        feedback.classList.toggle("cg-right", ok);
        feedback.classList.toggle("cg-wrong", !ok);
        var verdict = feedback.querySelector(".cg-verdict");
        if (verdict) {
          verdict.textContent = given === null ? "Not answered." : (ok ? "Correct." : "Not quite.");
        }
      }
    });
    if (state.checked.indexOf(module) < 0) { state.checked.push(module); }
    var score = form.querySelector(".cg-score");
    if (score) { score.textContent = "You got " + right + " of " + all.length + " right."; }
    if (!quiet) { fire("quiz", { module: parseInt(module, 10), right: right, of: all.length }); }
  }

  quizzes.forEach(function (form) {
    form.addEventListener("submit", function (event) { event.preventDefault(); grade(form, false); });
    form.addEventListener("change", function (event) {
      var input = event.target;
      if (input && input.name) { state.answers[input.name] = parseInt(input.value, 10); }
    });
  });

  if (paged) {
    root.addEventListener("click", function (event) {
      var target = event.target.closest ? event.target.closest("a, button") : null;
      if (!target) { return; }
      var nav = target.getAttribute("data-nav");
      var index = pages.map(function (p) { return p.id; }).indexOf(state.page);
      if (nav === "prev" && index > 0) { showPage(pages[index - 1].id); return; }
      if (nav === "next" && index < pages.length - 1) { showPage(pages[index + 1].id); return; }
      var href = target.getAttribute("href") || "";
      if (href.charAt(0) === "#") {
        var dest = document.getElementById(href.slice(1));
        var page = dest && (dest.hasAttribute("data-page") ? dest : dest.closest("[data-page]"));
        if (page) {
          event.preventDefault();
          if (page.id !== state.page) { showPage(page.id); }
          if (dest !== page) { dest.scrollIntoView(); }
        }
      }
    });
    showPage(state.page, true);
  }

  window.CourseGen = {
    state: snapshot,
    summary: summary,
    /* Put the learner back where a saved state says: answers, graded quizzes, page. */
    restore: function (saved) {
      if (!saved || typeof saved !== "object") { return; }
      var answers = saved.answers || {};
      Object.keys(answers).forEach(function (id) {
        var value = answers[id];
        if (value === null || value === undefined) { return; }
        var input = root.querySelector("input[name='" + id.replace(/[^\w-]/g, "") + "'][value='" + parseInt(value, 10) + "']");
        if (input) { input.checked = true; state.answers[id] = parseInt(value, 10); }
      });
      (saved.visited || []).forEach(function (id) {
        if (state.visited.indexOf(id) < 0 && document.getElementById(id)) { state.visited.push(id); }
      });
      quizzes.forEach(function (form) {
        if ((saved.checked || []).indexOf(form.getAttribute("data-module")) >= 0) { grade(form, true); }
      });
      if (saved.page) { showPage(String(saved.page), true); }
    },
    go: function (id) { showPage(id); }
  };
  document.dispatchEvent(new CustomEvent("coursegen:ready"));
})();
