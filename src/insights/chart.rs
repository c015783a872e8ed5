//! Server-rendered SVG charts. They read without colour: every series has its own marker and
//! line pattern and a text label at its last point, values are written next to the points, and
//! every chart has `<title>`/`<desc>` plus a data table next to it on the page. Only
//! presentation attributes, no inline styles or scripts (CSP `default-src 'self'`).

use std::fmt::Write;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A point is `None` where the figure is suppressed or missing: the line breaks there.
pub struct Series {
    pub label: String,
    pub points: Vec<Option<f64>>,
}

/// Black and dark tones with distinct markers and dash patterns: distinguishable in greyscale.
const STYLES: [(&str, &str, Marker); 4] = [
    ("#1a1a1a", "", Marker::Circle),
    ("#0059b3", "8 4", Marker::Square),
    ("#7a3e00", "2 3", Marker::Triangle),
    ("#006b3c", "12 4 2 4", Marker::Diamond),
];

#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
}

fn marker(out: &mut String, m: Marker, x: f64, y: f64, colour: &str) {
    let _ = match m {
        Marker::Circle => write!(
            out,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="5" fill="{colour}"/>"#
        ),
        Marker::Square => write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/>"#,
            x - 5.0,
            y - 5.0
        ),
        Marker::Triangle => write!(
            out,
            r#"<path d="M{x:.1} {:.1} L{:.1} {:.1} L{:.1} {:.1} Z" fill="{colour}"/>"#,
            y - 6.0,
            x + 6.0,
            y + 5.0,
            x - 6.0,
            y + 5.0
        ),
        Marker::Diamond => write!(
            out,
            r#"<path d="M{x:.1} {:.1} L{:.1} {y:.1} L{x:.1} {:.1} L{:.1} {y:.1} Z" fill="{colour}"/>"#,
            y - 6.0,
            x + 6.0,
            y + 6.0,
            x - 6.0
        ),
    };
}

/// A line chart over categories (cohort years) on the scale `min..=max`.
/// `unit` follows the values in the labels ("%" or "").
pub fn line_chart(
    id: &str,
    title: &str,
    desc: &str,
    categories: &[String],
    series: &[Series],
    (min, max): (f64, f64),
    unit: &str,
) -> String {
    let (w, h) = (720.0, 320.0);
    let (left, right, top, bottom) = (56.0, 190.0, 20.0, 40.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let n = categories.len().max(1);
    let x = |i: usize| {
        if n == 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| top + plot_h * (1.0 - (v - min) / (max - min));
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart" id="{id}" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        esc(title),
        esc(desc)
    );
    // grid and axis labels
    for step in 0..=4 {
        let v = min + (max - min) * step as f64 / 4.0;
        let _ = write!(
            out,
            r##"<line x1="{left}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#c8c8c8" stroke-width="1"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12" fill="#1a1a1a">{}{}</text>"##,
            left + plot_w,
            y(v),
            y(v),
            left - 6.0,
            y(v) + 4.0,
            number(v),
            unit
        );
    }
    for (i, c) in categories.iter().enumerate() {
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12" fill="#1a1a1a">{}</text>"##,
            x(i),
            h - bottom + 20.0,
            esc(c)
        );
    }
    for (s, (colour, dash, m)) in series.iter().zip(STYLES.iter().cycle()) {
        // the line, broken where a point is missing
        let mut d = String::new();
        let mut pen_down = false;
        for (i, p) in s.points.iter().enumerate() {
            match p {
                Some(v) => {
                    let _ = write!(
                        d,
                        "{}{:.1} {:.1} ",
                        if pen_down { "L" } else { "M" },
                        x(i),
                        y(*v)
                    );
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if !d.is_empty() {
            let dash = if dash.is_empty() {
                String::new()
            } else {
                format!(r#" stroke-dasharray="{dash}""#)
            };
            let _ = write!(
                out,
                r#"<path d="{}" fill="none" stroke="{colour}" stroke-width="2.5"{dash}/>"#,
                d.trim_end()
            );
        }
        for (i, p) in s.points.iter().enumerate() {
            if let Some(v) = p {
                marker(&mut out, *m, x(i), y(*v), colour);
            }
        }
        // the series' name at its last point, so no legend colour is needed
        if let Some((i, v)) = s
            .points
            .iter()
            .enumerate()
            .rev()
            .find_map(|(i, p)| p.map(|v| (i, v)))
        {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" font-size="12" fill="{colour}">{} {}{}</text>"#,
                x(i) + 10.0,
                y(v) + 4.0,
                esc(&s.label),
                number(v),
                unit
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Grouped horizontal bars: per category a solid bar (first series) and a hatched bar (second).
pub fn paired_bars(
    id: &str,
    title: &str,
    desc: &str,
    categories: &[String],
    first: &Series,
    second: &Series,
    max: f64,
) -> String {
    let row_h = 44.0;
    let (left, right, top) = (230.0, 80.0, 36.0);
    let w = 720.0;
    let h = top + row_h * categories.len().max(1) as f64 + 10.0;
    let plot_w = w - left - right;
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg class="chart" id="{id}" viewBox="0 0 {w} {h}" role="img" aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc><defs><pattern id="{id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#0059b3" stroke-width="3"/></pattern></defs>"##,
        esc(title),
        esc(desc)
    );
    // legend: the pattern and the words
    let _ = write!(
        out,
        r##"<rect x="{left}" y="6" width="16" height="12" fill="#1a1a1a"/><text x="{:.1}" y="16" font-size="12" fill="#1a1a1a">{} (fyldt)</text><rect x="{:.1}" y="6" width="16" height="12" fill="url(#{id}-hatch)" stroke="#0059b3"/><text x="{:.1}" y="16" font-size="12" fill="#1a1a1a">{} (skraveret)</text>"##,
        left + 22.0,
        esc(&first.label),
        left + 220.0,
        left + 242.0,
        esc(&second.label)
    );
    for (i, c) in categories.iter().enumerate() {
        let y0 = top + row_h * i as f64;
        let _ = write!(
            out,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12" fill="#1a1a1a">{}</text>"##,
            left - 8.0,
            y0 + row_h / 2.0,
            esc(c)
        );
        for (j, (s, fill)) in [
            (first, "#1a1a1a".to_string()),
            (second, format!("url(#{id}-hatch)")),
        ]
        .into_iter()
        .enumerate()
        {
            let by = y0 + 4.0 + 18.0 * j as f64;
            match s.points.get(i).copied().flatten() {
                Some(v) => {
                    let bw = plot_w * v / max;
                    let _ = write!(
                        out,
                        r##"<rect x="{left}" y="{by:.1}" width="{bw:.1}" height="16" fill="{fill}" stroke="#0059b3" stroke-width="{}"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#1a1a1a">{}</text>"##,
                        if j == 0 { 0 } else { 1 },
                        left + bw + 6.0,
                        by + 12.0,
                        format!("{v:.1}").replace('.', ",")
                    );
                }
                None => {
                    let _ = write!(
                        out,
                        r##"<text x="{:.1}" y="{:.1}" font-size="12" fill="#1a1a1a">{}: ikke vist</text>"##,
                        left + 4.0,
                        by + 12.0,
                        esc(&s.label)
                    );
                }
            }
        }
    }
    out.push_str("</svg>");
    out
}

/// One decimal, Danish comma; whole numbers without.
fn number(v: f64) -> String {
    if (v - v.round()).abs() < 0.05 {
        format!("{:.0}", v)
    } else {
        format!("{v:.1}").replace('.', ",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_have_text_alternatives_and_escape() {
        let s = line_chart(
            "c",
            "Titel <1>",
            "Beskrivelse",
            &["2024".into(), "2025".into()],
            &[Series {
                label: "A&B".into(),
                points: vec![Some(50.0), None],
            }],
            (0.0, 100.0),
            " %",
        );
        assert!(s.contains("<title id=\"c-title\">Titel &lt;1&gt;</title>"));
        assert!(s.contains("<desc"));
        assert!(s.contains("A&amp;B"));
        assert!(!s.contains("style="));
    }
}
