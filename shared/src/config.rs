//! Reading a program's TOML config file. Each program's settings are its own type; this is
//! how every one of them is read: a missing file named explicitly is an error, and so is an
//! unknown key (a typo should not silently fall back to a default).

/// Loads a TOML config file into `T`, or `T`'s defaults when no file is named.
pub fn load<T: serde::de::DeserializeOwned + Default>(
    path: Option<&std::path::Path>,
) -> Result<T, String> {
    let Some(path) = path else {
        return Ok(T::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("config {}: {e}", path.display()))
}
