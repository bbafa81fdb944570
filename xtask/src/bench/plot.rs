//! The latency-against-offered-load plot, as a small self-contained SVG.

/// One open-loop step: offered calls a second and the latency percentiles, ms.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Point {
    pub offered_per_sec: f64,
    pub achieved_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// p50 and p99 of BookTickets (log scale, ms) against offered bookings a second.
pub fn svg(points: &[Point], title: &str) -> String {
    let (w, h, left, bottom, top, right) = (720.0, 420.0, 70.0, 50.0, 40.0, 20.0);
    let max_x = points.iter().map(|p| p.offered_per_sec).fold(1.0, f64::max) * 1.05;
    let max_ms = points.iter().map(|p| p.p99_ms).fold(1.0, f64::max).max(10.0);
    let (lo, hi) = (0.1f64.log10(), (max_ms * 1.5).log10());
    let x = |v: f64| left + v / max_x * (w - left - right);
    let y = |ms: f64| h - bottom - (ms.max(0.1).log10() - lo) / (hi - lo) * (h - bottom - top);
    let line = |f: &dyn Fn(&Point) -> f64| {
        points.iter().map(|p| format!("{:.1},{:.1}", x(p.offered_per_sec), y(f(p)))).collect::<Vec<_>>().join(" ")
    };
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"24\" font-size=\"15\">{title}</text>\n"
    );
    // Axes, decade grid lines and ticks.
    out += &format!(
        "<line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/>\n\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{b}\" stroke=\"black\"/>\n",
        b = h - bottom,
        r = w - right
    );
    for ms in [0.1f64, 1.0, 10.0, 100.0, 1000.0, 10_000.0].into_iter().filter(|ms| ms.log10() <= hi) {
        out += &format!(
            "<line x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{r}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{ms} ms</text>\n",
            yy = y(ms),
            r = w - right,
            tx = left - 6.0,
            ty = y(ms) + 4.0
        );
    }
    for i in 0..=5 {
        let v = max_x * f64::from(i) / 5.0;
        out +=
            &format!("<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{v:.0}</text>\n", x(v), h - bottom + 18.0);
    }
    out += &format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">offered BookTickets / s (open loop, through Envoy)</text>\n",
        (left + w - right) / 2.0,
        h - 8.0
    );
    for (name, color, f) in [
        ("p50", "#1f77b4", &(|p: &Point| p.p50_ms) as &dyn Fn(&Point) -> f64),
        ("p99", "#d62728", &|p: &Point| p.p99_ms),
    ] {
        out += &format!("<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>\n", line(f));
        for p in points {
            out += &format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>\n",
                x(p.offered_per_sec),
                y(f(p))
            );
        }
        let last = points.last().map_or(0.0, f);
        out += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{name}</text>\n",
            x(points.last().map_or(0.0, |p| p.offered_per_sec)) - 24.0,
            y(last) - 8.0
        );
    }
    out + "</svg>\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plot_has_both_lines_and_every_point() {
        let points = vec![
            Point { offered_per_sec: 10.0, achieved_per_sec: 10.0, p50_ms: 3.0, p99_ms: 9.0 },
            Point { offered_per_sec: 50.0, achieved_per_sec: 48.0, p50_ms: 5.0, p99_ms: 40.0 },
        ];
        let svg = svg(&points, "test");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 4);
    }
}
