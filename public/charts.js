// Draws every element with a `data-chart` attribute (an ECharts option the server built with
// charming) with the locally served ECharts, once the page has hydrated (drawing earlier would
// put nodes the hydration does not expect into the page). Charts added or changed later, as
// pages change without a reload, are drawn too.
(function () {
  function draw(el) {
    if (el.dataset.drawn === el.dataset.chart) return;
    var chart = window.echarts.getInstanceByDom(el) || window.echarts.init(el, null, { renderer: 'canvas' });
    chart.setOption(JSON.parse(el.dataset.chart), true);
    el.dataset.drawn = el.dataset.chart;
  }
  function drawAll() {
    if (!window.echarts || document.body.dataset.hydrated !== 'true') return;
    document.querySelectorAll('[data-chart]').forEach(draw);
  }
  var script = document.createElement('script');
  script.src = '/echarts.min.js';
  script.onload = function () {
    drawAll();
    new MutationObserver(drawAll).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-chart', 'data-hydrated'] });
    window.addEventListener('resize', function () {
      document.querySelectorAll('[data-chart]').forEach(function (el) {
        var chart = window.echarts.getInstanceByDom(el);
        if (chart) chart.resize();
      });
    });
  };
  document.head.appendChild(script);
})();
