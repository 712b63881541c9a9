//! The catalog's driver: what every statement relies on, on both backends.

use bulwark_core::platform::catalog::Catalog;

use crate::on_both_catalogs;

on_both_catalogs!(a_statement_takes_a_missing_number_then_a_number);

/// sqlx 0.8.6 bound a NULL `f64` as a PostgreSQL `float4` through its `Any` driver: a statement
/// run first without a number (a location without a price, a probe sample without CPU figures)
/// was kept with that parameter type, and its next run with a number failed on the same
/// connection ("incorrect binary data format"). Patched in `vendor/sqlx-core`.
async fn a_statement_takes_a_missing_number_then_a_number(catalog: Catalog) {
    let mut connection = catalog.pool().acquire().await.unwrap();
    sqlx::query("CREATE TABLE driver_numbers (n INTEGER NOT NULL, price DOUBLE PRECISION)").execute(&mut *connection).await.unwrap();
    for (n, price) in [(1, None), (2, Some(0.023)), (3, None), (4, Some(1e9))] {
        sqlx::query("INSERT INTO driver_numbers (n, price) VALUES ($1, $2)").bind(n as i64).bind(price).execute(&mut *connection).await.unwrap();
    }
    let stored: Vec<(i64, Option<f64>)> = sqlx::query_as("SELECT CAST(n AS BIGINT), price FROM driver_numbers ORDER BY n").fetch_all(&mut *connection).await.unwrap();
    assert_eq!(stored, [(1, None), (2, Some(0.023)), (3, None), (4, Some(1e9))]);
}
