//! What every page's frame needs: title, user, CSRF token, navigation, flash message.

#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub title: String,
    pub user: Option<LayoutUser>,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub flash: Option<Flash>,
    /// The page's language when it is not (only) Danish: the parents' pages.
    pub i18n: Option<LayoutI18n>,
}

/// The frame of a translated page: its catalogue and the languages to switch to.
#[derive(Clone, Debug)]
pub struct LayoutI18n {
    pub tr: crate::i18n::Tr,
    pub langs: Vec<crate::i18n::LangLink>,
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
    pub fn html_lang(&self) -> &str {
        self.i18n
            .as_ref()
            .map_or(crate::i18n::DEFAULT, |i| i.tr.lang())
    }

    pub fn dir(&self) -> &str {
        self.i18n.as_ref().map_or("ltr", |i| i.tr.dir())
    }

    /// The frame's own words: from the page's catalogue, else the Danish the staff pages use.
    pub fn text(&self, key: &str, danish: &str) -> String {
        match &self.i18n {
            Some(i) => i.tr.t(key),
            None => danish.to_string(),
        }
    }

    /// Seconds until a signed-in user's session ends for want of activity, counted from this
    /// page (the check at its request kept `last_seen_at` within a minute); `static/app.js`
    /// warns before then and offers to stay signed in. None for anonymous pages.
    pub fn idle_secs(&self) -> Option<u64> {
        self.user
            .as_ref()
            .map(|_| crate::auth::session::IDLE_SECS as u64 - 60)
    }

    pub fn anonymous(title: &str, csrf: String) -> Self {
        Layout {
            title: title.to_string(),
            csrf,
            ..Default::default()
        }
    }
}
