//! Notification channels over REST (admins): create, read, change, delete, send a test, and
//! the delivery log with every attempt.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use bulwark_core::notifications::{channels, deliver, Channel, ChannelCreated, ChannelRequest, Delivery};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{Auth, Json, Query};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelList {
    channels: Vec<Channel>,
}

/// Every channel, by name.
#[utoipa::path(get, path = "/api/admin/notifications/channels", tag = "notifications", responses((status = 200, body = ChannelList)))]
pub async fn list(State(s): State<AppState>, Auth(p): Auth) -> Result<Json<ChannelList>, ApiError> {
    Ok(Json(ChannelList { channels: channels::list(&s.catalog, &p).await? }))
}

/// A new channel, checked first (an e-mail channel's server must answer). A webhook's signing
/// secret is in this answer only.
#[utoipa::path(post, path = "/api/admin/notifications/channels", tag = "notifications", request_body = ChannelRequest, responses((status = 201, body = ChannelCreated)))]
pub async fn create(State(s): State<AppState>, Auth(p): Auth, Json(body): Json<ChannelRequest>) -> Result<(StatusCode, Json<ChannelCreated>), ApiError> {
    Ok((StatusCode::CREATED, Json(channels::create(&s.catalog, &s.secrets, &p, &body).await?)))
}

#[utoipa::path(get, path = "/api/admin/notifications/channels/{id}", tag = "notifications", params(("id" = String, Path, description = "The channel")), responses((status = 200, body = Channel)))]
pub async fn get(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Channel>, ApiError> {
    Ok(Json(channels::get(&s.catalog, &p, &id).await?))
}

/// Changes a channel; `enabled: true` enables one its failures disabled.
#[utoipa::path(put, path = "/api/admin/notifications/channels/{id}", tag = "notifications", params(("id" = String, Path, description = "The channel")), request_body = ChannelRequest, responses((status = 200, body = Channel)))]
pub async fn update(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>, Json(body): Json<ChannelRequest>) -> Result<Json<Channel>, ApiError> {
    Ok(Json(channels::update(&s.catalog, &s.secrets, &p, &id, &body).await?))
}

/// Deletes a channel and its delivery log.
#[utoipa::path(delete, path = "/api/admin/notifications/channels/{id}", tag = "notifications", params(("id" = String, Path, description = "The channel")), responses((status = 204, description = "Removed")))]
pub async fn delete(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    channels::delete(&s.catalog, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a test message through the channel now and answers what came of it.
#[utoipa::path(post, path = "/api/admin/notifications/channels/{id}/test", tag = "notifications", params(("id" = String, Path, description = "The channel")), responses((status = 200, body = Delivery)))]
pub async fn test(State(s): State<AppState>, Auth(p): Auth, Path(id): Path<String>) -> Result<Json<Delivery>, ApiError> {
    Ok(Json(deliver::send_test(&s.catalog, &s.secrets, &p, &id).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    alert_id: Option<String>,
    /// 1 to 500 (100 by default).
    #[serde(default)]
    limit: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    deliveries: Vec<Delivery>,
}

/// The delivery log, newest first, each with its attempts.
#[utoipa::path(get, path = "/api/admin/notifications/deliveries", tag = "notifications", params(DeliveryQuery), responses((status = 200, body = DeliveryList)))]
pub async fn deliveries(State(s): State<AppState>, Auth(p): Auth, Query(q): Query<DeliveryQuery>) -> Result<Json<DeliveryList>, ApiError> {
    let filter = deliver::Filter { channel_id: q.channel_id, alert_id: q.alert_id, limit: q.limit, ..Default::default() };
    Ok(Json(DeliveryList { deliveries: deliver::log(&s.catalog, &p, &filter).await? }))
}
