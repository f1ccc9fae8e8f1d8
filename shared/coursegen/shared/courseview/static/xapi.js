/* coursegen xAPI reporter: sends what the learner does in the course player to a Learning Record Store.
   Statements: launched (the course), progressed (a page of it), answered (each checked quiz question),
   completed, and passed or failed (the course, with the score). The course, its modules and questions are
   the activities. Configured by window.COURSEGEN_XAPI; statements go out in order, one request at a time. */
(function () {
  "use strict";
  var config = window.COURSEGEN_XAPI;
  var player = window.CourseGen;
  if (!config || !player || !window.fetch) { return; }
  var VERBS = "http://adlnet.gov/expapi/verbs/";
  var course = { objectType: "Activity", id: config.course.id,
    definition: { type: "http://adlnet.gov/expapi/activities/course", name: { "en-US": config.course.name } } };
  var modules = {};
  config.modules.forEach(function (m) {
    modules[m.anchor] = { objectType: "Activity", id: m.id,
      definition: { type: "http://adlnet.gov/expapi/activities/module", name: { "en-US": m.name } } };
  });
  var queue = Promise.resolve();
  var sent = { completed: false, success: null, answered: {} };

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0; return (c === "x" ? r : (r & 0x3 | 0x8)).toString(16);
    });
  }

  function send(verb, object, result, parent) {
    var statement = {
      id: uuid(), actor: config.actor, timestamp: new Date().toISOString(),
      verb: { id: VERBS + verb, display: { "en-US": verb } }, object: object,
      context: { contextActivities: { grouping: [course] } }
    };
    if (parent) { statement.context.contextActivities.parent = [parent]; }
    if (object === course) { delete statement.context; }
    if (result) { statement.result = result; }
    queue = queue.then(function () {
      return fetch(config.endpoint.replace(/\/?$/, "/") + "statements", {
        method: "POST", keepalive: true,
        headers: { "Content-Type": "application/json", "X-Experience-API-Version": "1.0.3",
                   "Authorization": config.auth },
        body: JSON.stringify(statement)
      }).then(function (response) {
        if (!response.ok) { console.warn("xAPI: the LRS answered " + response.status + " to " + verb); }
      }, function (error) { console.warn("xAPI: " + verb + " not sent: " + error); });
    });
    window.COURSEGEN_XAPI_PENDING = queue;
  }

  function question(it, module) {
    return { objectType: "Activity", id: config.course.id + ":question:" + it.id,
      definition: { type: "http://adlnet.gov/expapi/activities/cmi.interaction", interactionType: "choice",
        name: { "en-US": it.description }, correctResponsesPattern: [it.correctResponse] } };
  }

  send("launched", course);
  document.addEventListener("coursegen:change", function (event) {
    var d = event.detail, summary = d.summary;
    if (d.kind === "page") {
      var progress = summary.pages ? Math.round(100 * summary.visited / summary.pages) : 0;
      send("progressed", modules[d.page] || course,
           { extensions: { "https://w3id.org/xapi/cmi5/result/extensions/progress": progress } },
           modules[d.page] ? course : null);
    }
    if (d.kind === "quiz") {
      var module = config.modules[d.module];
      var moduleActivity = module ? modules[module.anchor] : null;
      summary.interactions.forEach(function (it) {
        if (it.id.indexOf("m" + (d.module + 1) + "-") !== 0) { return; }
        send("answered", question(it), { success: it.result === "correct", response: it.response }, moduleActivity);
      });
    }
    if (summary.completed && !sent.completed) {
      sent.completed = true;
      send("completed", course, { completion: true });
    }
    if (summary.success !== "unknown" && summary.success !== sent.success) {
      sent.success = summary.success;
      send(summary.success, course, {
        success: summary.success === "passed", completion: true,
        score: { scaled: summary.percent / 100, raw: summary.percent, min: 0, max: 100 }
      });
    }
  });
})();
