"use strict";
(function () {
  var LANGS = ["en", "zh"];

  function storedLanguage() {
    try {
      var value = window.localStorage.getItem("language");
      return LANGS.indexOf(value) >= 0 ? value : "en";
    } catch (e) {
      return "en";
    }
  }

  function applyLanguage(lang) {
    document.documentElement.lang = lang;
    var nodes = document.querySelectorAll("[data-en][data-zh]");
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].textContent = nodes[i].getAttribute("data-" + lang);
    }
  }

  function setLanguage(lang) {
    applyLanguage(lang);
    try {
      window.localStorage.setItem("language", lang);
    } catch (e) {
      /* storage disabled: the page still switches */
    }
  }

  // Applied synchronously before first paint, so a stored choice causes no layout shift.
  applyLanguage(storedLanguage());

  var toggle = document.getElementById("lang-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var next = document.documentElement.lang === "zh" ? "en" : "zh";
      setLanguage(next); // @toggle
    });
  }

  function showError(message) {
    var box = document.getElementById("form-error");
    box.textContent = message;
    box.hidden = false;
  }

  var form = document.getElementById("intake-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = {};
      var names = ["user_email", "user_name", "target_name", "target_company", "target_reason", "user_background"];
      for (var i = 0; i < names.length; i++) {
        body[names[i]] = form.elements[names[i]].value;
      }
      var button = document.getElementById("submit");
      button.disabled = true;
      fetch("/api/intake", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body)
      })
        .then(function (response) {
          return response.json().catch(function () {
            return { success: false, error: "HTTP " + response.status };
          });
        })
        .then(function (data) {
          if (data && data.success && data.campaign_id) {
            location.href = "/dashboard?campaign=" + encodeURIComponent(data.campaign_id); // @intake-success
          } else {
            showError((data && data.error) || "Something went wrong");
            button.disabled = false;
          }
        })
        .catch(function () {
          showError("Network error, please try again");
          button.disabled = false;
        });
    });
  }

  var campaignBox = document.getElementById("campaign");
  if (campaignBox) {
    var id = new URLSearchParams(location.search).get("campaign");
    var show = function (en, zh) {
      var span = document.createElement("span");
      span.setAttribute("data-en", en);
      span.setAttribute("data-zh", zh);
      span.textContent = document.documentElement.lang === "zh" ? zh : en;
      campaignBox.replaceChildren(span);
    };
    if (!id) {
      show("No campaign selected.", "未选择活动。");
    } else {
      fetch("/api/campaign/" + encodeURIComponent(id))
        .then(function (response) {
          return response.json();
        })
        .then(function (data) {
          if (data && data.success) {
            var c = data.campaign;
            campaignBox.replaceChildren();
            var fields = [["campaign-id", c.id], ["campaign-target", c.target_name], ["campaign-company", c.target_company]];
            for (var i = 0; i < fields.length; i++) {
              var p = document.createElement("p");
              p.className = fields[i][0];
              p.textContent = fields[i][1];
              campaignBox.appendChild(p);
            }
          } else {
            show("Campaign not found.", "未找到活动。");
          }
        })
        .catch(function () {
          show("Could not load the campaign.", "无法加载活动。");
        });
    }
  }
})();
