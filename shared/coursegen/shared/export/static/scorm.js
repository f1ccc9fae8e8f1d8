/* coursegen SCORM run-time adapter: connects the course player (window.CourseGen) to the LMS.
   Finds the LMS API as the SCORM run-time environment says (the window's parents, up to 500
   levels, then its opener's), keeps the bookmark and progress there, reports the quiz, and
   commits and finishes when the learner leaves. Without an LMS the course plays as it is. */
(function () {
  "use strict";
  var config = window.COURSEGEN_SCORM || {};
  var v2004 = config.version === "2004";
  var API_NAME = v2004 ? "API_1484_11" : "API";
  var MAX_PARENTS = 500;

  function apiIn(win) {
    try { return win && win[API_NAME] ? win[API_NAME] : null; } catch (e) { return null; } /* another origin */
  }

  function findAPI(win) {
    var tries = 0;
    while (!apiIn(win) && win.parent && win.parent !== win) {
      tries += 1;
      if (tries > MAX_PARENTS) { return null; }
      win = win.parent;
    }
    return apiIn(win);
  }

  function discover() {
    var api = findAPI(window);
    try {
      if (!api && window.opener) { api = findAPI(window.opener); }
      if (!api && window.top && window.top.opener) { api = findAPI(window.top.opener); }
    } catch (e) { /* an opener of another origin */ }
    return api;
  }

  var player = window.CourseGen;
  var api = discover();
  if (!player || !api) { return; }

  var ok = function (r) { return r === true || r === "true"; };
  var lms = v2004 ? {
    init: function () { return api.Initialize(""); },
    get: function (k) { return api.GetValue(k); },
    set: function (k, v) { return api.SetValue(k, String(v)); },
    commit: function () { return api.Commit(""); },
    finish: function () { return api.Terminate(""); }
  } : {
    init: function () { return api.LMSInitialize(""); },
    get: function (k) { return api.LMSGetValue(k); },
    set: function (k, v) { return api.LMSSetValue(k, String(v)); },
    commit: function () { return api.LMSCommit(""); },
    finish: function () { return api.LMSFinish(""); }
  };
  if (!ok(lms.init())) { return; }

  var started = Date.now();
  var finished = false;
  var LOCATION = v2004 ? "cmi.location" : "cmi.core.lesson_location";

  /* Resume: the bookmark says where, the suspend data what was done. */
  var location = lms.get(LOCATION) || "";
  var saved = null;
  try { saved = JSON.parse(lms.get("cmi.suspend_data") || "null"); } catch (e) { saved = null; }
  if (saved || location) {
    saved = saved && typeof saved === "object" ? saved : {};
    if (location) { saved.page = location; }
    player.restore(saved);
  }

  var interactionIndex = {};
  if (v2004) {
    var count = parseInt(lms.get("cmi.interactions._count"), 10) || 0;
    for (var i = 0; i < count; i++) { interactionIndex[lms.get("cmi.interactions." + i + ".id")] = i; }
    var completion = lms.get("cmi.completion_status");
    if (completion === "unknown" || completion === "not attempted" || !completion) {
      lms.set("cmi.completion_status", "incomplete");
    }
  } else {
    var status = lms.get("cmi.core.lesson_status");
    if (status === "not attempted" || !status) { lms.set("cmi.core.lesson_status", "incomplete"); }
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function sessionTime() {
    var s = Math.max(0, Math.round((Date.now() - started) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    return v2004 ? "PT" + h + "H" + m + "M" + sec + "S" : pad(h) + ":" + pad(m) + ":" + pad(sec);
  }

  function timestamp() { return new Date().toISOString().replace(/\.\d+Z$/, ""); }

  function report(summary, state) {
    lms.set(LOCATION, state.page);
    lms.set("cmi.suspend_data", JSON.stringify({ visited: state.visited, answers: state.answers, checked: state.checked }));
    if (summary.hasQuiz && summary.quizzesChecked > 0) {
      var prefix = v2004 ? "cmi.score." : "cmi.core.score.";
      lms.set(prefix + "min", 0);
      lms.set(prefix + "max", 100);
      lms.set(prefix + "raw", summary.percent);
      if (v2004) { lms.set("cmi.score.scaled", (summary.percent / 100).toFixed(2)); }
    }
    if (v2004) {
      lms.set("cmi.completion_status", summary.completed ? "completed" : "incomplete");
      if (summary.hasQuiz) { lms.set("cmi.success_status", summary.success); }
      lms.set("cmi.progress_measure", summary.pages ? Math.min(1, summary.visited / summary.pages).toFixed(2) : "0");
      summary.interactions.forEach(function (it) {
        var n = interactionIndex[it.id];
        var base;
        if (n === undefined) {
          n = parseInt(lms.get("cmi.interactions._count"), 10) || 0;
          base = "cmi.interactions." + n + ".";
          lms.set(base + "id", it.id);
          lms.set(base + "type", it.type);
          lms.set(base + "description", it.description.slice(0, 250));
          lms.set(base + "correct_responses.0.pattern", it.correctResponse);
          interactionIndex[it.id] = n;
        }
        base = "cmi.interactions." + n + ".";
        lms.set(base + "timestamp", timestamp());
        lms.set(base + "learner_response", it.response);
        lms.set(base + "result", it.result);
      });
    } else {
      var status = "incomplete";
      if (summary.completed) { status = summary.hasQuiz ? summary.success : "completed"; }
      lms.set("cmi.core.lesson_status", status);
    }
    lms.commit();
  }

  document.addEventListener("coursegen:change", function (event) {
    if (!finished) { report(event.detail.summary, event.detail.state); }
  });

  function leave() {
    if (finished) { return; }
    finished = true;
    report(player.summary(), player.state());
    if (v2004) {
      lms.set("cmi.exit", "suspend");
      lms.set("cmi.session_time", sessionTime());
    } else {
      lms.set("cmi.core.exit", "suspend");
      lms.set("cmi.core.session_time", sessionTime());
    }
    lms.commit();
    lms.finish();
  }

  window.addEventListener("pagehide", leave);
  window.addEventListener("beforeunload", leave);
  player.finish = leave;
})();
