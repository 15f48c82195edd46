//! The columns every record's `sqlx::FromRow` (beside its type, so queries read records
//! with `query_as`) decodes alike on both backends: a flag (BOOLEAN in PostgreSQL, a 0/1 INTEGER in SQLite), a list stored one item
//! per line, and the shared enums (protocol, family, outcome, health state) by their names.

use sqlx::any::AnyRow;
use sqlx::Row;

/// A column holding an enum's name.
pub(crate) fn named<T: TryFrom<String, Error = String>>(
    row: &AnyRow,
    name: &str,
) -> sqlx::Result<T> {
    let text: String = row.try_get(name)?;
    T::try_from(text).map_err(|e| sqlx::Error::ColumnDecode {
        index: name.to_string(),
        source: e.into(),
    })
}

/// A flag as either backend stores it.
pub(crate) fn flag(row: &AnyRow, name: &str) -> sqlx::Result<bool> {
    match row.try_get::<bool, _>(name) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(name)? != 0),
    }
}

/// A list of short texts stored one per line (none: NULL or empty).
pub(crate) fn lines(row: &AnyRow, name: &str) -> sqlx::Result<Vec<String>> {
    let text: Option<String> = row.try_get(name)?;
    Ok(text
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect())
}
