//! Who a location's bytes belong to, deduplication included. Each blob's stored length is
//! charged to the configurations whose snapshots reach it: all of it to the one configuration
//! when only one does, split evenly when several share it. Blobs no snapshot reaches are the
//! unreferenced data a prune would free. What the blobs do not account for (pack headers,
//! indexes, snapshot manifests, keys) is split in proportion to each configuration's share.
//! The shares are whole bytes summing to exactly what the location stores (every object it
//! lists): the largest remainders get the last bytes.

use std::collections::HashMap;

use super::CostError;
use crate::engine::repo::reachable;
use crate::engine::repo::ChunkId;
use crate::locations;
use crate::platform::catalog::Catalog;
use crate::platform::secrets::SecretBox;

/// A location's bytes, by owner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution {
    /// Every object the location stores.
    pub total_bytes: u64,
    /// Configuration (none: data no configuration's snapshot reaches) → bytes; sums to
    /// `total_bytes`.
    pub shares: Vec<(Option<String>, u64)>,
    /// Of the share without a configuration: blobs no snapshot reaches at all (what a prune
    /// frees).
    pub unreferenced_bytes: u64,
}

/// Attributes what `location_id` stores.
pub async fn attribute(catalog: &Catalog, secrets: &SecretBox, location_id: &str) -> Result<Attribution, CostError> {
    let repo = locations::open_repository(catalog, secrets, location_id).await?;
    let total_bytes: u64 = repo.storage().list("").await?.iter().map(|o| o.size).sum();
    let (index, _) = repo.load_index_past_damage().await?;
    let (snapshots, _) = repo.snapshots_past_damage().await?;
    // A snapshot id is the same on every copy of a repository: its execution names its owner.
    let owners: HashMap<String, String> =
        sqlx::query_as::<_, (String, String)>("SELECT snapshot_id, configuration_id FROM backup_executions WHERE snapshot_id IS NOT NULL").fetch_all(catalog.pool()).await?.into_iter().collect();

    // Each blob's owners (indexes into `names`; a snapshot the catalog does not know has none).
    let mut names: Vec<Option<String>> = Vec::new();
    let mut users: HashMap<ChunkId, Vec<u32>> = HashMap::new();
    for snapshot in &snapshots {
        let owner = owners.get(&snapshot.id).cloned();
        let at = match names.iter().position(|n| *n == owner) {
            Some(at) => at,
            None => {
                names.push(owner);
                names.len() - 1
            }
        } as u32;
        // A tree that cannot be walked to its end still charges what was reached.
        let (blobs, _) = reachable::blobs_reached(&repo, &index, snapshot).await;
        for blob in blobs {
            let list = users.entry(blob).or_default();
            if !list.contains(&at) {
                list.push(at);
            }
        }
    }
    let mut share = vec![0f64; names.len()];
    let mut unreferenced_bytes = 0u64;
    for id in index.blob_ids() {
        let Some((_, location)) = index.get(id) else { continue };
        let length = f64::from(location.length);
        match users.get(id) {
            Some(list) => list.iter().for_each(|&at| share[at as usize] += length / list.len() as f64),
            None => unreferenced_bytes += u64::from(location.length),
        }
    }
    let referenced: f64 = share.iter().sum();
    let overhead = (total_bytes as f64 - referenced - unreferenced_bytes as f64).max(0.0);
    let mut weights: Vec<(Option<String>, f64)> = Vec::new();
    for (name, bytes) in names.into_iter().zip(share) {
        let spread = if referenced > 0.0 { overhead * bytes / referenced } else { 0.0 };
        weights.push((name, bytes + spread));
    }
    let unowned = unreferenced_bytes as f64 + if referenced > 0.0 { 0.0 } else { overhead };
    match weights.iter_mut().find(|(name, _)| name.is_none()) {
        Some((_, bytes)) => *bytes += unowned,
        None if unowned > 0.0 => weights.push((None, unowned)),
        None => {}
    }
    Ok(Attribution { total_bytes, shares: whole(weights, total_bytes), unreferenced_bytes })
}

/// Rounds `weights` to whole bytes summing to `total` (largest remainder first), in proportion.
fn whole(weights: Vec<(Option<String>, f64)>, total: u64) -> Vec<(Option<String>, u64)> {
    let sum: f64 = weights.iter().map(|(_, w)| w).sum();
    if weights.is_empty() || sum <= 0.0 {
        return if total > 0 { vec![(None, total)] } else { Vec::new() };
    }
    let exact: Vec<f64> = weights.iter().map(|(_, w)| w / sum * total as f64).collect();
    let mut out: Vec<(Option<String>, u64)> = weights.into_iter().zip(&exact).map(|((name, _), e)| (name, e.floor() as u64)).collect();
    let mut left = total - out.iter().map(|(_, b)| b).sum::<u64>();
    let mut order: Vec<usize> = (0..out.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    for at in order.into_iter().cycle() {
        if left == 0 {
            break;
        }
        out[at].1 += 1;
        left -= 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::whole;

    #[test]
    fn whole_bytes_sum_to_the_total() {
        let shares = whole(vec![(Some("a".into()), 1.0), (Some("b".into()), 1.0), (Some("c".into()), 1.0)], 100);
        assert_eq!(shares.iter().map(|(_, b)| b).sum::<u64>(), 100);
        assert_eq!(shares.iter().map(|(_, b)| *b).collect::<Vec<_>>(), [34, 33, 33]);
        assert_eq!(whole(Vec::new(), 5), [(None, 5)]);
    }
}
