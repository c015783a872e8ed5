//! What every page's frame needs: title, user, CSRF token, navigation, flash message.

#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub title: String,
    pub user: Option<LayoutUser>,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub flash: Option<Flash>,
}

#[derive(Clone, Debug)]
pub struct LayoutUser {
    pub name: String,
    pub municipality: Option<String>,
    pub role_label: String,
}

#[derive(Clone, Debug)]
pub struct NavItem {
    pub href: String,
    pub label: String,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    pub kind: &'static str,
    pub message: String,
}

impl Flash {
    pub fn success(message: impl Into<String>) -> Self {
        Flash {
            kind: "success",
            message: message.into(),
        }
    }
    pub fn info(message: impl Into<String>) -> Self {
        Flash {
            kind: "info",
            message: message.into(),
        }
    }
}

impl Layout {
    pub fn anonymous(title: &str, csrf: String) -> Self {
        Layout {
            title: title.to_string(),
            csrf,
            ..Default::default()
        }
    }
}
