//! Charts built on the server as ECharts options (charming) and sent as JSON in a page's
//! `data-chart` attribute; `/charts.js` draws them with the locally served ECharts once the page
//! has hydrated. The page labels each chart's element for screen readers; ECharts' aria adds a
//! description of the data.

use charming::Chart;
use charming::component::{Axis, Legend};
use charming::datatype::DataPointItem;
use charming::element::{AxisType, Tooltip, Trigger};
use charming::series::{Bar, Line, Pie};

/// The option as compact JSON.
fn json(chart: &Chart) -> String {
    serde_json::to_string(chart).unwrap_or_default()
}

fn aria() -> charming::component::Aria {
    charming::component::Aria::new().enabled(true)
}

/// Bars per day, one stacked series per part (`(name, values)`).
pub fn stacked_days(days: &[String], parts: &[(&str, Vec<f64>)]) -> String {
    let mut chart = Chart::new()
        .aria(aria())
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new())
        .x_axis(Axis::new().type_(AxisType::Category).data(days.to_vec()))
        .y_axis(Axis::new().type_(AxisType::Value));
    for (name, values) in parts {
        chart = chart.series(Bar::new().name(*name).stack("total").data(values.clone()));
    }
    json(&chart)
}

/// One line over the days.
pub fn line_days(name: &str, days: &[String], values: Vec<f64>) -> String {
    json(
        &Chart::new()
            .aria(aria())
            .tooltip(Tooltip::new().trigger(Trigger::Axis))
            .x_axis(Axis::new().type_(AxisType::Category).data(days.to_vec()))
            .y_axis(Axis::new().type_(AxisType::Value))
            .series(Line::new().name(name).data(values)),
    )
}

/// Shares of a whole (`(name, value)`).
pub fn shares(name: &str, items: &[(String, f64)]) -> String {
    let data: Vec<DataPointItem> = items.iter().map(|(label, value)| DataPointItem::new(*value).name(label.clone())).collect();
    json(&Chart::new().aria(aria()).tooltip(Tooltip::new().trigger(Trigger::Item)).legend(Legend::new()).series(Pie::new().name(name).radius(vec!["40%", "70%"]).data(data)))
}

/// A measured figure per run as bars, against its objective as a line, one category per run
/// (`(name, values)` each; a NaN objective is a gap). `unit` names the value axis.
pub fn against_objective(runs: &[String], measured: (&str, Vec<f64>), objective: (&str, Vec<f64>), unit: &str) -> String {
    json(
        &Chart::new()
            .aria(aria())
            .tooltip(Tooltip::new().trigger(Trigger::Axis))
            .legend(Legend::new())
            .x_axis(Axis::new().type_(AxisType::Category).data(runs.to_vec()))
            .y_axis(Axis::new().type_(AxisType::Value).name(unit))
            .series(Bar::new().name(measured.0).data(measured.1))
            .series(Line::new().name(objective.0).data(objective.1)),
    )
}
