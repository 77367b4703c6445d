import XenTrace
/// One self-contained HTML page (inline CSS, SVG and JavaScript, no network)
/// with the summary tables, a zoomable per-pCPU timeline and histograms of
/// exit reasons and wake-to-run latency. Every number shown carries a
/// `data-k` key so tests (and scripts) can read it back.
public enum HTMLReport {
    /// The whole self-contained page (inline CSS and script, no network) for one summary.
    public static func render(_ s: TraceSummary, timeline: TimelineCollector) -> String {
        var h = ""
        func esc(_ x: String) -> String {
            x.replacingAll("&", "&amp;").replacingAll("<", "&lt;").replacingAll(">", "&gt;").replacingAll("\"", "&quot;")
        }
        func sec(_ c: UInt64) -> String { fmt(s.seconds(c), 3) }
        func td(_ k: String, _ v: String) -> String { "<td data-k=\"\(k)\">\(esc(v))</td>" }

        h += """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>XenScope trace report: \(esc(s.file))</title>
        <style>
        body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222}
        h1{font-size:18px} h2{font-size:15px;margin-top:22px;border-bottom:1px solid #ccc}
        table{border-collapse:collapse;margin:6px 0} td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
        th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
        .note{color:#666} #tl{border:1px solid #ccc;cursor:grab;user-select:none} .lane-label{font-size:11px;fill:#333}
        .bar{fill:#4a7ebb} .lat-bar{fill:#c0504d} .axis{font-size:10px;fill:#555}
        button{margin-right:4px}
        </style></head><body>
        <h1>XenScope trace report</h1>
        <p><b>\(esc(s.file))</b> — <span data-k="records">\(s.records)</span> records on <span data-k="pcpu-count">\(s.pcpus.count)</span> pCPUs,
        span <span data-k="span-s">\(sec(s.totalCycles))</span> s; lost records: <span data-k="lost">\(s.lostRecords)</span>.</p>
        <p class="note">Time base: <span data-k="clock">\(esc(s.timeClock.name))</span> at <span data-k="clock-hz">\(fmt(s.cpuHz, 0))</span> Hz, \(s.timeClock.rateText) (\(s.cpuHzSource == "default" ? "xenalyze's default — give --cpu-hz or --xl-info for real seconds" : esc(s.cpuHzSource))).</p>

        """

        // timeline
        var colors: [Int: Int] = [:]
        for r in timeline.runs where colors[r.dom] == nil { colors[r.dom] = colors.count }
        var data = "{\"cpus\":[" + timeline.cpus.map(String.init).joined(separator: ",") + "],\"clock\":\"\(s.timeClock.kind.rawValue)\",\"hz\":\(fmt(s.cpuHz, 0)),\"span\":\(s.totalCycles),\"runs\":["
        var firstRun = true
        for r in timeline.runs {
            if !firstRun { data += "," }
            firstRun = false
            data += "[\(r.cpu),\(r.start),\(r.end),\(r.dom),\(r.vcpu)]"
        }
        data += "]}"
        h += """
        <h2>Timeline: which vCPU ran on each pCPU</h2>
        <p class="note">Wheel or the buttons to zoom, drag to pan. \(timeline.dropped > 0 ? "Only the first \(timeline.runs.count) run intervals are drawn (\(timeline.dropped) more in the trace)." : "\(timeline.runs.count) run intervals.") Idle is grey.</p>
        <div><button id="zin">zoom in</button><button id="zout">zoom out</button><button id="zreset">reset</button> <span id="range" class="note"></span></div>
        <svg id="tl" width="1200" height="\(40 + 22 * max(1, timeline.cpus.count))"></svg>
        <script id="tl-data" type="application/json">\(data)</script>

        """

        // pCPUs
        h += "<h2>Physical CPUs</h2><table id=\"pcpus\"><tr><th>cpu</th><th>records</th><th>bytes</th><th>span s</th><th>lost records</th><th>lost s</th><th>busy s</th><th>idle s</th><th>switches</th></tr>\n"
        for c in s.pcpus {
            h += "<tr>" + td("cpu\(c.cpu)", "\(c.cpu)") + td("cpu\(c.cpu)-records", "\(c.records)") + td("cpu\(c.cpu)-bytes", "\(c.bytes)")
                + td("cpu\(c.cpu)-span", c.spanCycles.map(sec) ?? "?") + td("cpu\(c.cpu)-lost", "\(c.lostRecords)") + td("cpu\(c.cpu)-lost-s", sec(c.lostCycles))
                + td("cpu\(c.cpu)-busy", sec(c.runningCycles)) + td("cpu\(c.cpu)-idle", sec(c.idleCycles)) + td("cpu\(c.cpu)-switches", "\(c.contextSwitches)") + "</tr>\n"
        }
        h += "</table>\n"

        if !s.top.isEmpty {
            h += "<h2>Top domains by CPU time</h2><table id=\"top\"><tr><th>domain</th><th>running s</th><th>share %</th></tr>\n"
            for t in s.top {
                h += "<tr>" + td("top-d\(t.domain)", Names.domain(t.domain)) + td("top-d\(t.domain)-s", sec(t.runningCycles)) + td("top-d\(t.domain)-share", fmt(t.share * 100, 1)) + "</tr>\n"
            }
            h += "</table>\n"
        }

        h += "<h2>Runstates per vCPU</h2><table id=\"runstates\"><tr><th>vCPU</th><th>kind</th>"
        for n in Names.runstates { h += "<th>\(n) #</th><th>\(n) s</th>" }
        h += "<th>runs</th><th>migrations</th><th>wake→run mean cyc</th></tr>\n"
        for d in s.domains {
            for v in d.vcpus {
                let key = "d\(d.domain)v\(v.vcpu)"
                h += "<tr>" + td(key, key) + td("\(key)-kind", v.kind)
                for r in v.runstates { h += td("\(key)-\(r.state)-count", "\(r.stats.count)") + td("\(key)-\(r.state)-s", sec(r.stats.cycles)) }
                h += td("\(key)-runs", "\(v.runs)") + td("\(key)-migrations", "\(v.migrations)") + td("\(key)-wake-mean", "\(v.runnableAfterWake.meanCycles)") + "</tr>\n"
            }
        }
        h += "</table>\n"

        if let w = s.wakeLatency {
            h += "<h2>Wake-to-run latency (all vCPUs)</h2><p>count <span data-k=\"wake-count\">\(w.count)</span>, p50 <span data-k=\"wake-p50\">\(w.percentiles.p50)</span>, p90 <span data-k=\"wake-p90\">\(w.percentiles.p90)</span>, p99 <span data-k=\"wake-p99\">\(w.percentiles.p99)</span>, max <span data-k=\"wake-max\">\(w.percentiles.max)</span> \(s.timeClock.unit)</p>\n"
            h += bars(w.bins.map { ("\($0.low)…\($0.high)", Int($0.count)) }, cls: "lat-bar", id: "latency")
        }

        if !s.exits.isEmpty {
            h += "<h2>HVM exits (\(s.hvmFlavour ?? "")), exit → next entry</h2>\(s.hvmFlavourReason.map { "<p>exit reasons named as \(s.hvmFlavour == "svm" ? "AMD SVM exit codes" : "Intel VMX basic exit reasons"): \(esc($0))</p>" } ?? "")<table id=\"exits\"><tr><th>reason</th><th>count</th><th>total s</th><th>mean cyc</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>hottest RIP</th></tr>\n"
            for e in s.exits {
                let k = "exit-\(e.reason)"
                h += "<tr>" + td(k, e.name) + td("\(k)-count", "\(e.stats.events)") + td("\(k)-s", sec(e.stats.cycles)) + td("\(k)-mean", "\(e.stats.meanCycles)")
                    + td("\(k)-p50", "\(e.distribution.percentiles.p50)") + td("\(k)-p90", "\(e.distribution.percentiles.p90)") + td("\(k)-p99", "\(e.distribution.percentiles.p99)")
                    + td("\(k)-max", "\(e.stats.maxCycles)") + td("\(k)-rip", e.topRIPs.first.map { "0x" + String($0.rip, radix: 16) + " ×\($0.count)" } ?? "") + "</tr>\n"
            }
            h += "</table>\n<h3>Exits by reason (count)</h3>\n"
            h += bars(s.exits.sorted { $0.stats.events > $1.stats.events }.map { ($0.name, $0.stats.events) }, cls: "bar", id: "exit-bars")
        }

        let pv = s.domains.filter { !$0.hypercalls.isEmpty }
        if !pv.isEmpty {
            h += "<h2>PV hypercalls per domain</h2><table id=\"hypercalls\"><tr><th>domain</th><th>hypercall</th><th>count</th></tr>\n"
            for d in pv { for c in d.hypercalls.sorted(by: { $0.count > $1.count }) {
                h += "<tr>" + td("hc-d\(d.domain)-\(c.op)-dom", "d\(d.domain)") + td("hc-d\(d.domain)-\(c.op)-name", "\(c.name) [\(c.op)]") + td("hc-d\(d.domain)-\(c.op)", "\(c.count)") + "</tr>\n"
            } }
            h += "</table>\n"
        }
        if !s.anomalies.isEmpty {
            h += "<h2>Not accounted for</h2><table id=\"anomalies\"><tr><th>kind</th><th>count</th><th>first offsets</th></tr>\n"
            for a in s.anomalies {
                h += "<tr>" + td("anomaly-\(a.kind)", a.kind) + td("anomaly-\(a.kind)-count", "\(a.count)") + td("anomaly-\(a.kind)-offsets", a.offsets.map(String.init).joined(separator: " ")) + "</tr>\n"
            }
            h += "</table>\n"
        }
        h += "<script>\n" + script + "\n</script>\n</body></html>\n"
        return h
    }

    /// A horizontal bar chart as inline SVG; each bar carries its count.
    static func bars(_ items: [(String, Int)], cls: String, id: String) -> String {
        let mx = max(1, items.map(\.1).max() ?? 1)
        let rowH = 16, labelW = 210, w = 700
        var s = "<svg id=\"\(id)\" width=\"\(labelW + w + 80)\" height=\"\(items.count * rowH + 4)\">"
        for (i, (label, n)) in items.enumerated() {
            let y = i * rowH + 2
            let bw = max(1, n * w / mx)
            s += "<text class=\"axis\" x=\"0\" y=\"\(y + 11)\">\(label.replacingAll("<", "&lt;"))</text>"
            s += "<rect class=\"\(cls)\" data-label=\"\(label)\" data-count=\"\(n)\" x=\"\(labelW)\" y=\"\(y)\" width=\"\(bw)\" height=\"\(rowH - 3)\"></rect>"
            s += "<text class=\"axis\" x=\"\(labelW + bw + 4)\" y=\"\(y + 11)\">\(n)</text>"
        }
        return s + "</svg>\n"
    }

    static let script = #"""
    (function () {
      var errors = 0;
      window.addEventListener('error', function () { errors++; document.body.setAttribute('data-js-errors', String(errors)); });
      var D = JSON.parse(document.getElementById('tl-data').textContent);
      var svg = document.getElementById('tl'), NS = 'http://www.w3.org/2000/svg';
      var W = +svg.getAttribute('width'), left = 70, laneH = 22, top = 24;
      var span = Math.max(1, D.span), view = [0, span];
      var byCpu = {};
      D.cpus.forEach(function (c) { byCpu[c] = []; });
      D.runs.forEach(function (r) { (byCpu[r[0]] = byCpu[r[0]] || []).push(r); });
      function color(dom) {
        if (dom === 32767) return '#cfcfcf';
        var h = (dom * 137.508) % 360; return 'hsl(' + h.toFixed(0) + ',60%,55%)';
      }
      function el(name, attrs, text) {
        var e = document.createElementNS(NS, name);
        for (var k in attrs) e.setAttribute(k, attrs[k]);
        if (text !== undefined) e.textContent = text;
        return e;
      }
      function secs(c) { return (c / D.hz).toFixed(6) + ' s'; }
      function draw() {
        while (svg.firstChild) svg.removeChild(svg.firstChild);
        var scale = (W - left - 10) / (view[1] - view[0]);
        for (var i = 0; i <= 4; i++) {
          var t = view[0] + (view[1] - view[0]) * i / 4;
          svg.appendChild(el('text', { 'class': 'axis', x: left + (t - view[0]) * scale - (i === 4 ? 60 : 0), y: 12 }, secs(t)));
        }
        D.cpus.forEach(function (c, li) {
          var g = el('g', { 'class': 'lane', 'data-cpu': String(c) });
          var y = top + li * laneH;
          g.appendChild(el('text', { 'class': 'lane-label', x: 2, y: y + 14 }, 'pCPU ' + c));
          g.appendChild(el('rect', { x: left, y: y, width: W - left - 10, height: laneH - 4, fill: '#f7f7f7' }));
          var lastX = -1;
          (byCpu[c] || []).forEach(function (r) {
            if (r[2] < view[0] || r[1] > view[1]) return;
            var x0 = left + Math.max(0, r[1] - view[0]) * scale, x1 = left + (Math.min(view[1], r[2]) - view[0]) * scale;
            if (x1 - x0 < 0.5 && Math.floor(x0) === lastX) return;   // merge sub-pixel slices
            lastX = Math.floor(x0);
            var rect = el('rect', { 'class': 'run', x: x0, y: y, width: Math.max(0.5, x1 - x0), height: laneH - 4, fill: color(r[3]) });
            rect.appendChild(el('title', {}, (r[3] === 32767 ? 'idle' : 'd' + r[3] + 'v' + r[4]) + ' ' + secs(r[2] - r[1])));
            g.appendChild(rect);
          });
          svg.appendChild(g);
        });
        document.getElementById('range').textContent = secs(view[0]) + ' – ' + secs(view[1]);
      }
      function zoom(f, at) {
        var w = view[1] - view[0], c = at === undefined ? view[0] + w / 2 : at;
        var nw = Math.max(100, Math.min(span, w * f));
        var a = Math.max(0, Math.min(span - nw, c - (c - view[0]) * nw / w));
        view = [a, a + nw]; draw();
      }
      document.getElementById('zin').onclick = function () { zoom(0.5); };
      document.getElementById('zout').onclick = function () { zoom(2); };
      document.getElementById('zreset').onclick = function () { view = [0, span]; draw(); };
      svg.addEventListener('wheel', function (e) {
        e.preventDefault();
        var scale = (W - left - 10) / (view[1] - view[0]);
        zoom(e.deltaY < 0 ? 0.8 : 1.25, view[0] + (e.offsetX - left) / scale);
      });
      var drag = null;
      svg.addEventListener('mousedown', function (e) { drag = { x: e.clientX, v: view.slice() }; });
      window.addEventListener('mouseup', function () { drag = null; });
      window.addEventListener('mousemove', function (e) {
        if (!drag) return;
        var scale = (W - left - 10) / (drag.v[1] - drag.v[0]);
        var d = (drag.x - e.clientX) / scale, w = drag.v[1] - drag.v[0];
        var a = Math.max(0, Math.min(span - w, drag.v[0] + d));
        view = [a, a + w]; draw();
      });
      draw();
      document.body.setAttribute('data-js-errors', String(errors));
      document.body.setAttribute('data-rendered', '1');
    })();
    """#
}

extension String {
    func replacingAll(_ a: String, _ b: String) -> String {
        guard contains(a) else { return self }
        return split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
    }
}
