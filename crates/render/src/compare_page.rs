//! A [`Comparison`] as a self-contained page (`qdrant-perf report DIR_A DIR_B`, default
//! `DIR_B/compare.html`): the provenance warnings above the table, the same rows and cells as
//! the Markdown table ([`Comparison::table_cells`]: the `significant` column, the verdict), and
//! the rule, in the one page shell of [`crate::html`].

use std::fmt::Write as _;

use crate::html::{escape, page};

use qdrant_perf_gate::compare::{Change, Comparison, TABLE_HEADER};

/// The comparison page.
pub fn comparison_page(c: &Comparison) -> String {
    // The title's Markdown code spans (`DIR`) as code.
    let title = escape(&c.title())
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect::<String>();
    let mut b = format!("<h1>{title}</h1>\n");
    for w in &c.warnings {
        let _ = writeln!(b, "<p class=\"missed\">warning: {}</p>", escape(w));
    }
    b.push_str("<table id=\"comparison\" class=\"num\"><tr>");
    for h in TABLE_HEADER {
        let _ = write!(b, "<th>{h}</th>");
    }
    b.push_str("</tr>\n");
    for (r, cells) in c.rows.iter().zip(c.table_cells()) {
        let class = match r.verdict {
            Change::Regressed => "missed",
            Change::Improved => "met",
            _ => "notrun",
        };
        b.push_str("<tr>");
        for cell in &cells[..5] {
            let _ = write!(b, "<td>{}</td>", escape(cell));
        }
        let _ = writeln!(b, "<td class=\"{class}\">{}</td></tr>", escape(&cells[5]));
    }
    b.push_str("</table>\n");
    let _ = writeln!(b, "<p>{}</p>", escape(&c.summary_line()));
    page(&c.title().replace('`', ""), &b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use qdrant_perf_gate::compare::{Direction, Measurement, RunReport, compare_reports};

    fn metrics(mean: f64, half: f64) -> RunReport {
        RunReport {
            provenance: Default::default(),
            metrics: vec![Measurement {
                name: "search/a mean".into(),
                unit: "ms".into(),
                direction: Direction::LowerIsBetter,
                value: mean,
                ci: Some(qdrant_perf_report::margin::Ci {
                    low: mean - half,
                    high: mean + half,
                }),
                samples: Some(1000),
            }],
        }
    }

    #[test]
    fn the_page_has_the_markdown_tables_rows_and_marks_a_regression() {
        let c = compare_reports("a", &metrics(1.0, 0.01), "b", &metrics(1.5, 0.01), 10.0);
        let page = comparison_page(&c);
        let cells = &c.table_cells()[0];
        assert_eq!(cells[4], "yes (intervals apart)");
        let row = format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"missed\">regressed</td></tr>",
            escape(&cells[0]),
            escape(&cells[1]),
            escape(&cells[2]),
            escape(&cells[3]),
            escape(&cells[4])
        );
        assert!(page.contains(&row), "{row}\n{page}");
        assert!(page.contains("<th>significant</th>"));
        assert!(page.contains("1 regressed, 0 improved"), "{page}");
        // The run names are code, not Markdown backticks.
        assert!(
            page.contains("<h1>Performance: <code>a</code> → <code>b</code>"),
            "{page}"
        );
        assert!(!page.contains('`'), "{page}");
        assert!(
            c.to_markdown()
                .contains(&format!("| {} |", cells[..5].join(" | ")))
        );
    }
}
