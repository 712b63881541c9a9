//! Storage cost: each location's prices, the seeds' daily cost rows, storage utilisation, the
//! cost analysis and its optimisation suggestions.

use serde::{Deserialize, Serialize};

/// What a location charges (all optional: an unpriced part costs nothing).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct Prices {
    pub cost_per_gb_month: Option<f64>,
    pub cost_per_1k_requests: Option<f64>,
    /// Per GB read back out of the location (egress).
    pub cost_per_gb_transfer: Option<f64>,
}

/// One row of `backup_cost_tracking`: a day's cost of one configuration on one location (the
/// row without a configuration is data no snapshot references).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CostRow {
    pub id: String,
    pub tracking_period_start: String,
    pub tracking_period_end: String,
    pub storage_location_id: String,
    pub location_name: String,
    pub backup_configuration_id: Option<String>,
    pub configuration_name: Option<String>,
    pub storage_cost_usd: f64,
    pub transfer_cost_usd: f64,
    pub request_cost_usd: f64,
    pub total_cost_usd: f64,
    pub storage_usage_gb: f64,
    /// The bytes charged to this row; a day's rows of a location sum to what it stores.
    pub storage_bytes: i64,
    pub data_transfer_gb: f64,
    pub api_requests_count: i64,
    pub cost_per_gb_month: Option<f64>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LocationStorage {
    pub location_id: String,
    pub location_name: String,
    /// Bytes stored on the latest tracked day.
    pub storage_used: i64,
    /// Bytes still free, where the storage tells it (a local disk; S3 does not).
    pub storage_available: Option<i64>,
    pub utilization_percentage: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationStorage {
    /// None: data no snapshot references.
    pub configuration_id: Option<String>,
    pub configuration_name: String,
    pub storage_used: i64,
    /// Its backups are deleted when their policies and floors say (no retention violation open).
    pub retention_compliance: bool,
}

/// A day's total.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StoragePoint {
    pub date: String,
    pub bytes: i64,
}

/// `GET /api/admin/backups/storage/utilization`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StorageUtilization {
    pub total_storage: i64,
    pub storage_by_location: Vec<LocationStorage>,
    pub storage_by_configuration: Vec<ConfigurationStorage>,
    /// Bytes stored each tracked day of the period.
    pub trend: Vec<StoragePoint>,
    /// The latest tracked day (none before the first tracking).
    pub as_of: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CostBreakdown {
    pub storage: f64,
    pub transfer: f64,
    pub requests: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LocationCost {
    pub location_id: String,
    pub location_name: String,
    pub cost: f64,
    /// The period's cost per GB stored (on its latest day).
    #[serde(rename = "costPerGB")]
    pub cost_per_gb: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationCost {
    pub configuration_id: Option<String>,
    pub configuration_name: String,
    pub cost: f64,
}

/// A day's cost, by part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CostPoint {
    pub date: String,
    pub storage: f64,
    pub transfer: f64,
    pub requests: f64,
    pub total: f64,
}

/// What a suggestion's button does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum SuggestionAction {
    /// Prune the location: delete the data no snapshot references.
    #[serde(rename = "prune")]
    Prune { location_id: String },
    /// Change the configuration (its retention policy, compression or locations) on its page.
    #[serde(rename = "edit_configuration")]
    EditConfiguration { configuration_id: String, field: String },
    /// Remove the copy rule that keeps a replica (on the source location's page), then the
    /// replica's data from its own location.
    #[serde(rename = "remove_replica")]
    RemoveReplica { rule_id: String, source_location_id: String, replica_location_id: String },
}

/// An optimisation computed from the latest day's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    /// `cold_tier`, `tighten_retention`, `raise_compression`, `prune_unreferenced` or
    /// `remove_replica`.
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    /// Per month, in the locations' currency.
    pub estimated_savings: f64,
    pub action: SuggestionAction,
}

/// `GET /api/admin/backups/cost/analysis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CostAnalysis {
    /// The period's cost.
    pub total_cost: f64,
    /// Present when `breakdown=true` was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_breakdown: Option<CostBreakdown>,
    pub cost_by_location: Vec<LocationCost>,
    pub cost_by_configuration: Vec<ConfigurationCost>,
    /// The latest tracked day's cost × 30.
    pub monthly_estimate: f64,
    pub trend: Vec<CostPoint>,
    pub optimization_suggestions: Vec<Suggestion>,
    pub as_of: Option<String>,
}
