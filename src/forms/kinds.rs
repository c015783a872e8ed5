//! The closed vocabularies of form templates: transition kinds, question kinds, template
//! statuses and theme keys. Stored values are English; labels are Danish.

use serde::Deserialize;

/// Which move a handover is about (also the key templates are chosen by).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    HomeDaycare,
    NurseryKindergarten,
    KindergartenSchool,
    KindergartenSfo,
    SchoolClub,
    SchoolYouth,
}

impl TransitionKind {
    /// In the order children meet them.
    pub const ALL: [TransitionKind; 6] = [
        TransitionKind::HomeDaycare,
        TransitionKind::NurseryKindergarten,
        TransitionKind::KindergartenSchool,
        TransitionKind::KindergartenSfo,
        TransitionKind::SchoolClub,
        TransitionKind::SchoolYouth,
    ];

    /// The value stored in the database (and in `municipalities.enabled_transition_kinds`).
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::HomeDaycare => "home_daycare",
            TransitionKind::NurseryKindergarten => "nursery_kindergarten",
            TransitionKind::KindergartenSchool => "kindergarten_school",
            TransitionKind::KindergartenSfo => "kindergarten_sfo",
            TransitionKind::SchoolClub => "school_club",
            TransitionKind::SchoolYouth => "school_youth",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            TransitionKind::HomeDaycare => "Hjem → dagtilbud",
            TransitionKind::NurseryKindergarten => "Vuggestue → børnehave",
            TransitionKind::KindergartenSchool => "Børnehave → skole",
            TransitionKind::KindergartenSfo => "Børnehave → SFO",
            TransitionKind::SchoolClub => "Skole → klub",
            TransitionKind::SchoolYouth => "Skole → ungdomsuddannelse",
        }
    }
}

impl std::fmt::Display for TransitionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// How a question is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuestionKind {
    FreeText,
    /// 1–4, see `QuestionKind::choices`.
    Scale1To4,
    /// green / yellow / red.
    TrafficLight,
    SingleChoice,
    MultiChoice,
    Date,
}

const SCALE_1_4: [(&str, &str); 4] = [
    ("1", "1 – har brug for meget støtte"),
    ("2", "2 – har brug for nogen støtte"),
    ("3", "3 – klarer det for det meste selv"),
    ("4", "4 – klarer det rigtig godt"),
];

const TRAFFIC_LIGHT: [(&str, &str); 3] = [
    ("green", "Grøn – trives og udvikler sig godt"),
    ("yellow", "Gul – god at være opmærksom på"),
    ("red", "Rød – har brug for en særlig indsats"),
];

impl QuestionKind {
    pub const ALL: [QuestionKind; 6] = [
        QuestionKind::FreeText,
        QuestionKind::Scale1To4,
        QuestionKind::TrafficLight,
        QuestionKind::SingleChoice,
        QuestionKind::MultiChoice,
        QuestionKind::Date,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QuestionKind::FreeText => "free_text",
            QuestionKind::Scale1To4 => "scale_1_4",
            QuestionKind::TrafficLight => "traffic_light",
            QuestionKind::SingleChoice => "single_choice",
            QuestionKind::MultiChoice => "multi_choice",
            QuestionKind::Date => "date",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            QuestionKind::FreeText => "Fritekst",
            QuestionKind::Scale1To4 => "Skala 1–4",
            QuestionKind::TrafficLight => "Trafiklys (grøn/gul/rød)",
            QuestionKind::SingleChoice => "Ét valg",
            QuestionKind::MultiChoice => "Flere valg",
            QuestionKind::Date => "Dato",
        }
    }

    /// The administrator writes the choices (`options`) for these kinds.
    pub fn has_options(self) -> bool {
        matches!(self, QuestionKind::SingleChoice | QuestionKind::MultiChoice)
    }

    /// The fixed answer values of the scales, as (stored value, Danish label); empty for the
    /// other kinds (choice questions answer with one of their own `options`).
    pub fn scale(self) -> &'static [(&'static str, &'static str)] {
        match self {
            QuestionKind::Scale1To4 => &SCALE_1_4,
            QuestionKind::TrafficLight => &TRAFFIC_LIGHT,
            _ => &[],
        }
    }
}

/// A version's life: edited as a draft, published (the one new handovers use), archived when a
/// newer version is published. Only drafts change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateStatus {
    Draft,
    Published,
    Archived,
}

impl TemplateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateStatus::Draft => "draft",
            TemplateStatus::Published => "published",
            TemplateStatus::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            TemplateStatus::Draft,
            TemplateStatus::Published,
            TemplateStatus::Archived,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            TemplateStatus::Draft => "Kladde",
            TemplateStatus::Published => "Offentliggjort",
            TemplateStatus::Archived => "Arkiveret",
        }
    }
}

/// Theme keys: the same key on the sender's and the receiver's question makes their ratings
/// comparable in feedback and insights, across template versions.
pub const THEMES: [(&str, &str); 12] = [
    ("personal", "Alsidig personlig udvikling"),
    ("social", "Social udvikling"),
    ("language", "Kommunikation og sprog"),
    ("body", "Krop, sanser og bevægelse"),
    ("nature", "Natur, udeliv og science"),
    ("culture", "Kultur, æstetik og fællesskab"),
    ("wellbeing", "Trivsel"),
    ("play", "Leg og fællesskab"),
    ("independence", "Selvhjulpenhed og hverdagsliv"),
    ("learning", "Læring og skolefaglighed"),
    ("attendance", "Fremmøde og stabilitet"),
    ("future", "Fremtid og uddannelsesvalg"),
];

pub fn theme_label(key: &str) -> Option<&'static str> {
    THEMES.iter().find(|(k, _)| *k == key).map(|(_, l)| *l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for k in TransitionKind::ALL {
            assert_eq!(TransitionKind::parse(k.as_str()), Some(k));
        }
        for k in QuestionKind::ALL {
            assert_eq!(QuestionKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(TransitionKind::parse("Kindergarten_school"), None);
        assert_eq!(QuestionKind::parse(""), None);
        assert!(THEMES
            .iter()
            .all(|(k, _)| k.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }
}
