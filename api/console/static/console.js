// The console's own script, kept tiny. Canned replies: a button from /console/canned (data-answer)
// puts its answer into the reply box at the cursor, replacing any selected text.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("button[data-answer]");
  var box = document.querySelector('form.reply textarea[name="text"]');
  if (!button || !box) return;
  var answer = button.getAttribute("data-answer");
  var start = box.selectionStart || 0, end = box.selectionEnd || 0;
  box.value = box.value.slice(0, start) + answer + box.value.slice(end);
  box.focus();
  box.selectionStart = box.selectionEnd = start + answer.length;
});

// Charts (Apache ECharts, vendored in static/vendor/echarts/). An element with a data-chart attribute holding
// JSON is drawn as a chart: the JSON is an ECharts option object, e.g. in a template
//   <div class="chart" data-chart='{{ option|tojson }}'></div>
// (tojson escapes quotes, so the single-quoted attribute is safe). If the option has a top-level "links", an
// array of URLs, one per data point of series 0, clicking a data point goes to links[dataIndex] (a report
// chart drills down to its tickets); "links" is taken out before the option reaches ECharts. Only http(s)
// URLs, relative or absolute, are followed.
// Charts are drawn when the page has loaded and when htmx brings in new content (htmx:load, htmx:afterSwap),
// resized with the window, and disposed once their element has left the page. The page must load
// echarts.min.js itself (base.html's scripts block, with defer); without it nothing is drawn. An element
// with no height of its own gets 320px. window.consoleCharts.draw(root) draws any not yet drawn under root.
(function () {
  if (window.consoleCharts) return;  // console.js included twice
  // The console's font stack (console.css, :root), so ECharts' canvas text is Chinese too.
  var FONT = '"Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif';
  var drawn = new Set();  // elements with a chart

  function followable(url) {
    if (typeof url !== "string" || !url) return null;
    try {
      var target = new URL(url, window.location.href);
      return target.protocol === "http:" || target.protocol === "https:" ? target.href : null;
    } catch (error) {
      return null;
    }
  }

  function drawOne(element) {
    var echarts = window.echarts;
    if (!echarts || echarts.getInstanceByDom(element)) return;
    var option;
    try {
      option = JSON.parse(element.getAttribute("data-chart"));
    } catch (error) {
      console.error("data-chart is not JSON", element, error);
      return;
    }
    if (!option || typeof option !== "object") return;
    var links = Array.isArray(option.links) ? option.links : null;
    delete option.links;
    option.textStyle = Object.assign({fontFamily: FONT}, option.textStyle);
    if (!element.clientHeight) element.style.height = "320px";
    var chart = echarts.init(element, null, {renderer: "canvas"});
    chart.setOption(option);
    if (links) {
      chart.on("click", function (params) {
        if (params.seriesIndex !== 0) return;
        var url = followable(links[params.dataIndex]);
        if (url) window.location.assign(url);
      });
    }
    drawn.add(element);
  }

  function draw(root) {
    root = root && root.querySelectorAll ? root : document;
    if (root.matches && root.matches("[data-chart]")) drawOne(root);
    root.querySelectorAll("[data-chart]").forEach(drawOne);
  }

  function sweep(resize) {  // dispose the charts whose element is gone; resize the others
    drawn.forEach(function (element) {
      var chart = window.echarts && window.echarts.getInstanceByDom(element);
      if (!element.isConnected || !chart) {
        if (chart) chart.dispose();
        drawn.delete(element);
      } else if (resize) {
        chart.resize();
      }
    });
  }

  var resizing = false;
  window.addEventListener("resize", function () {
    if (resizing) return;
    resizing = true;
    window.requestAnimationFrame(function () { resizing = false; sweep(true); });
  });
  new MutationObserver(function (mutations) {
    if (drawn.size && mutations.some(function (m) { return m.removedNodes.length; })) sweep(false);
  }).observe(document.documentElement, {childList: true, subtree: true});
  document.addEventListener("htmx:load", function (event) { draw(event.target); });
  document.addEventListener("htmx:afterSwap", function () { draw(document); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { draw(document); });
  } else {
    draw(document);
  }
  window.addEventListener("load", function () { draw(document); });  // echarts.min.js loaded late
  window.consoleCharts = {draw: draw};
})();

// The reports' period picker: typing a month picks 按月, a date picks 自定义 (the radios say which counts).
document.addEventListener("change", function (event) {
  var input = event.target;
  var form = input && input.closest && input.closest("form.picker");
  if (!form || !/^(month|start|end)$/.test(input.name)) return;
  var by = form.querySelector('input[name="by"][value="' + (input.name === "month" ? "month" : "days") + '"]');
  if (by) by.checked = true;
});

// The supply notice's item table: 添加一行 appends a blank row (from the form's <template class="item-row">);
// a catalogue suggestion (button[data-product], from /console/supply/products) fills the product box it was
// offered for (the first input in the same .product-box) and tells the form it changed.
document.addEventListener("click", function (event) {
  var target = event.target.closest ? event.target : null;
  var add = target && target.closest("button[data-add-row]");
  if (add) {
    var form = add.closest("form");
    var row = form.querySelector("template.item-row").content.firstElementChild.cloneNode(true);
    form.querySelector("table.grid tbody").appendChild(row);
    if (window.htmx) window.htmx.process(row);
    row.querySelector("input").focus();
    return;
  }
  var pick = target && target.closest("button[data-product]");
  if (pick) {
    var input = pick.closest(".product-box").querySelector("input");
    input.value = pick.getAttribute("data-product");
    pick.parentNode.innerHTML = "";
    input.dispatchEvent(new Event("change", {bubbles: true}));
  }
});
