//! The default Danish templates every municipality starts with, one per transition kind.
//!
//! Written from the municipalities' principles: describe strengths and what works before what
//! is hard, describe situations rather than the child, keep the child's own voice and the
//! parents' perspective in every form, keep it short. Support and intervention questions are
//! sensitive: the receiver sees them only with the parents' consent.

use serde_json::json;
use uuid::Uuid;

use super::kinds::{QuestionKind, TransitionKind};
use crate::{
    audit::{self, Actor, Entry},
    db::Tx,
};

#[derive(Clone, Copy)]
pub struct DefaultQuestion {
    pub kind: QuestionKind,
    pub label: &'static str,
    pub help: &'static str,
    pub options: &'static [&'static str],
    pub required: bool,
    pub visible_to_receiver: bool,
    pub visible_to_parents: bool,
    pub sensitive: bool,
    pub theme: Option<&'static str>,
}

pub struct DefaultSection {
    pub title: &'static str,
    pub description: &'static str,
    pub questions: &'static [DefaultQuestion],
}

pub struct DefaultTemplate {
    pub kind: TransitionKind,
    pub title: &'static str,
    pub intro: &'static str,
    pub sections: &'static [DefaultSection],
}

const fn q(kind: QuestionKind, label: &'static str, help: &'static str) -> DefaultQuestion {
    DefaultQuestion {
        kind,
        label,
        help,
        options: &[],
        required: false,
        visible_to_receiver: true,
        visible_to_parents: true,
        sensitive: false,
        theme: None,
    }
}

const fn text(label: &'static str, help: &'static str) -> DefaultQuestion {
    q(QuestionKind::FreeText, label, help)
}

const fn scale(label: &'static str, help: &'static str, theme: &'static str) -> DefaultQuestion {
    q(QuestionKind::Scale1To4, label, help).theme(theme)
}

const fn light(label: &'static str, help: &'static str, theme: &'static str) -> DefaultQuestion {
    q(QuestionKind::TrafficLight, label, help).theme(theme)
}

const fn single(
    label: &'static str,
    help: &'static str,
    options: &'static [&'static str],
) -> DefaultQuestion {
    DefaultQuestion {
        options,
        ..q(QuestionKind::SingleChoice, label, help)
    }
}

const fn multi(
    label: &'static str,
    help: &'static str,
    options: &'static [&'static str],
) -> DefaultQuestion {
    DefaultQuestion {
        options,
        ..q(QuestionKind::MultiChoice, label, help)
    }
}

const fn date(label: &'static str, help: &'static str) -> DefaultQuestion {
    q(QuestionKind::Date, label, help)
}

impl DefaultQuestion {
    const fn required(self) -> Self {
        DefaultQuestion {
            required: true,
            ..self
        }
    }
    const fn sensitive(self) -> Self {
        DefaultQuestion {
            sensitive: true,
            ..self
        }
    }
    /// Stays with the sender (e.g. a checklist for the meeting); parents still see it.
    const fn not_for_receiver(self) -> Self {
        DefaultQuestion {
            visible_to_receiver: false,
            ..self
        }
    }
    const fn theme(self, theme: &'static str) -> Self {
        DefaultQuestion {
            theme: Some(theme),
            ..self
        }
    }
}

const GOOD_AT: &str = "Det er barnet godt til, og det virker";
const GOOD_AT_HELP: &str =
    "Beskriv med eksempler fra hverdagen: hvad optager barnet, og hvad hjælper det til at lykkes?";
const MULTILINGUAL: [&str; 2] = ["Ja", "Nej"];
const LANGUAGE_ASSESSMENT: [&str; 4] = [
    "Generel indsats",
    "Fokuseret indsats",
    "Særlig indsats",
    "Barnet er ikke sprogvurderet",
];
const PPR: [&str; 3] = ["Nej", "Ja, lige nu", "Tidligere, men ikke længere"];
const ACTION_PLAN: [&str; 3] = ["Nej", "Ja", "Den er ved at blive lavet"];
const HOW_HEARD: [&str; 6] = [
    "Samtale med en voksen, barnet kender godt",
    "Samtale i en lille gruppe børn",
    "Tegning eller fortælling",
    "Billeder eller samtalekort",
    "Iagttagelse i leg og hverdag",
    "På en anden måde",
];
const SUPPORT_SECTION: &str =
    "Udfyldes kun, når det er relevant. Svarene er følsomme: de gives kun \
videre med forældrenes samtykke, og forældrene ser dem altid først.";
const PARENTS_SECTION: &str = "Forældrene er eksperter i deres eget barn. Afsnittet udfyldes af \
forældrene eller sammen med dem.";

const KINDERGARTEN_SCHOOL: DefaultTemplate = DefaultTemplate {
    kind: TransitionKind::KindergartenSchool,
    title: "Overlevering fra børnehave til skole",
    intro: "Skemaet forbereder overleveringsmødet mellem børnehave, skole og forældre – det \
erstatter det ikke. Beskriv barnet, som I kender det: hvad det er godt til, hvad det er optaget \
af, og hvad der hjælper det i hverdagen. Skriv, så barnet og forældrene kan genkende beskrivelsen. \
Temaerne følger den styrkede pædagogiske læreplan.",
    sections: &[
        DefaultSection {
            title: "Sprog",
            description: "Sproget er nøglen til at lære og til at være med i fællesskabet, så vi \
begynder her.",
            questions: &[
                single("Vokser barnet op med flere sprog?", "", &MULTILINGUAL).required(),
                text(
                    "Hvilke sprog taler barnet, og med hvem?",
                    "Fx dansk i børnehaven og med far, arabisk med mor og mormor.",
                ),
                single(
                    "Resultat af den seneste sprogvurdering",
                    "Sprogvurderingen efter dagtilbudsloven, typisk ved 3 år og før skolestart.",
                    &LANGUAGE_ASSESSMENT,
                )
                .theme("language"),
                date("Dato for den seneste sprogvurdering", ""),
                text(
                    "Det styrker barnets sprog",
                    "Fx dialogisk læsning, billeder til beskeder, tid til at svare, rim og remser.",
                ),
            ],
        },
        DefaultSection {
            title: "Alsidig personlig udvikling",
            description: "Engagement, gåpåmod, selvtillid og at kunne rumme og håndtere følelser.",
            questions: &[
                scale(
                    "Barnets personlige udvikling",
                    "Fx at tage initiativ, at blive ved, når noget er svært, og at kunne vente og \
skiftes.",
                    "personal",
                ),
                text(GOOD_AT, GOOD_AT_HELP),
            ],
        },
        DefaultSection {
            title: "Social udvikling",
            description: "Venskaber, leg og at være en del af et fællesskab.",
            questions: &[
                scale(
                    "Barnets sociale udvikling",
                    "Fx at komme ind i en leg, have venner, løse uenigheder og tage hensyn til \
andre.",
                    "social",
                ),
                text(GOOD_AT, GOOD_AT_HELP),
            ],
        },
        DefaultSection {
            title: "Kommunikation og sprog",
            description: "At forstå og blive forstået, i samtale og i leg.",
            questions: &[
                scale(
                    "Barnets kommunikation og sprog",
                    "Fx at fortælle, forstå en besked, stille spørgsmål og lytte i en samling.",
                    "language",
                ),
                text(GOOD_AT, GOOD_AT_HELP),
            ],
        },
        DefaultSection {
            title: "Krop, sanser og bevægelse",
            description: "Kropsbevidsthed, motorik og at mærke sig selv.",
            questions: &[
                scale(
                    "Barnets krop, sanser og bevægelse",
                    "Fx at løbe, klatre og klippe, at klare påklædning og toiletbesøg, at mærke \
sult, træthed og behov for ro.",
                    "body",
                ),
                text(GOOD_AT, GOOD_AT_HELP),
            ],
        },
        DefaultSection {
            title: "Natur, udeliv og science",
            description: "Nysgerrighed på omverdenen, tal, mængder og former.",
            questions: &[
                scale(
                    "Barnets undersøgelse af natur og omverden",
                    "Fx at undre sig, undersøge og eksperimentere, tælle, sortere og se mønstre.",
                    "nature",
                ),
                text(GOOD_AT, GOOD_AT_HELP),
            ],
        },
        DefaultSection {
            title: "Kultur, æstetik og fællesskab",
            description: "Skabende aktiviteter, traditioner og forskellige måder at leve på.",
            questions: &[
                scale(
                    "Barnets deltagelse i kultur og skabende aktiviteter",
                    "Fx at tegne, synge, danse, spille teater og rollelege og at være med i \
fællesskabets traditioner.",
                    "culture",
                ),
                text(GOOD_AT, GOOD_AT_HELP),
            ],
        },
        DefaultSection {
            title: "Styrker og det, der virker",
            description: "Det, skolen kan bygge videre på fra første dag.",
            questions: &[
                text(
                    "Barnets tre største styrker",
                    "Det, barnet selv er stolt af, og det, I ser barnet blomstre med.",
                )
                .required(),
                text(
                    "Barnet lykkes bedst, når …",
                    "Fx når dagen har faste rutiner, når en voksen er tæt på ved skift, når en \
opgave bliver vist med billeder.",
                ),
                text(
                    "Det kan være svært for barnet, når …",
                    "Beskriv situationen, ikke barnet – fx ”når der er meget larm i garderoben”. \
Skriv også, hvad der så hjælper.",
                ),
                light(
                    "Barnets trivsel lige nu",
                    "Jeres samlede vurdering af, hvordan barnet har det i hverdagen.",
                    "wellbeing",
                ),
                text("Barnets interesser og yndlingslege", ""),
            ],
        },
        DefaultSection {
            title: "Indsatser og støtte",
            description: SUPPORT_SECTION,
            questions: &[
                text(
                    "Indsatser, der er prøvet, og hvad de viste",
                    "Fx sprogindsats, leg i små grupper, billedstøtte. Hvad virkede, og hvad \
virkede ikke?",
                )
                .sensitive(),
                text("Indsatser, der er i gang nu", "").sensitive(),
                text(
                    "Indsatser, der kunne være relevante, men ikke er prøvet endnu",
                    "",
                )
                .sensitive(),
                single(
                    "Er PPR involveret?",
                    "Pædagogisk Psykologisk Rådgivning.",
                    &PPR,
                )
                .sensitive(),
                single("Er der en handleplan for barnet?", "", &ACTION_PLAN).sensitive(),
                text(
                    "Det skal skolen vide for at kunne fortsætte støtten fra første dag",
                    "",
                )
                .sensitive(),
            ],
        },
        DefaultSection {
            title: "Barnets egen stemme",
            description: "Barnets egne ord om at skulle begynde i skole.",
            questions: &[
                text(
                    "Det siger barnet selv om at skulle begynde i skole",
                    "Brug gerne barnets egne ord som citat.",
                )
                .required(),
                text("Det glæder barnet sig til, og det er barnet spændt på", ""),
                multi(
                    "Sådan har vi spurgt barnet",
                    "Vælg alle, der passer.",
                    &HOW_HEARD,
                ),
                text("Uddyb gerne, hvordan barnet er blevet hørt", ""),
            ],
        },
        DefaultSection {
            title: "Forældrenes perspektiv",
            description: PARENTS_SECTION,
            questions: &[
                text("Det er vigtigt for os, at skolen ved om vores barn", ""),
                text(
                    "Det er vores barn særligt glad for og god til derhjemme",
                    "",
                ),
                text(
                    "Det glæder vi os til, og det er vi spændte på ved skolestarten",
                    "",
                ),
                text(
                    "Sådan samarbejder skolen bedst med os",
                    "Fx sprog og tolk, og hvordan og hvornår I helst vil kontaktes.",
                ),
            ],
        },
        DefaultSection {
            title: "Anbefalinger og aftaler for den første tid",
            description: "Det, børnehave, skole og forældre aftaler på overleveringsmødet.",
            questions: &[
                text("Vores anbefalinger til skolen og SFO'en", "").required(),
                text(
                    "Kammerater, det er godt for barnet at fortsætte sammen med",
                    "Til klassedannelsen.",
                ),
                text(
                    "Aftaler for de første uger",
                    "Hvem gør hvad, og hvornår? Fx besøg før start, en fast voksen, billeder af \
skolen derhjemme.",
                ),
                date(
                    "Dato for opfølgning",
                    "Hvornår følger skole, børnehave og forældre op på aftalerne?",
                ),
                text(
                    "Huskeliste til overleveringsmødet",
                    "Ses af børnehaven og forældrene, men sendes ikke med til skolen.",
                )
                .not_for_receiver(),
            ],
        },
    ],
};

const HOME_DAYCARE: DefaultTemplate = DefaultTemplate {
    kind: TransitionKind::HomeDaycare,
    title: "Start i dagtilbud",
    intro: "Forældrene kender barnet bedst. Skemaet samler det, dagplejen eller vuggestuen skal \
vide for at give barnet en tryg start, og udfyldes af forældrene – gerne sammen med \
sundhedsplejersken.",
    sections: &[
        DefaultSection {
            title: "Barnet og familien",
            description: "",
            questions: &[
                text(
                    "Det er vores barn glad for",
                    "Fx sange, legetøj, at blive båret, at være ude.",
                )
                .required(),
                single("Vokser barnet op med flere sprog?", "", &MULTILINGUAL),
                text("Hvilke sprog taler familien med barnet?", ""),
            ],
        },
        DefaultSection {
            title: "Hverdagsrytme og trivsel",
            description: "",
            questions: &[
                text(
                    "Søvn og hvile",
                    "Hvornår og hvordan sover barnet bedst? Sut, bamse, sovepose?",
                ),
                text("Mad og måltider", "Vaner, og hvad barnet kan lide."),
                text("Sådan trøster og beroliger man bedst vores barn", ""),
                light(
                    "Barnets trivsel lige nu",
                    "Jeres egen vurdering af, hvordan barnet har det.",
                    "wellbeing",
                ),
            ],
        },
        DefaultSection {
            title: "Helbred og særlige hensyn",
            description: SUPPORT_SECTION,
            questions: &[
                text(
                    "Allergier, diæter, medicin eller helbred, dagtilbuddet skal kende",
                    "",
                )
                .sensitive(),
                text("Støtte fra sundhedsplejen eller andre fagpersoner", "").sensitive(),
            ],
        },
        DefaultSection {
            title: "Barnets egen stemme",
            description: "Små børn fortæller med kroppen, med lyde og med mimik.",
            questions: &[text(
                "Det viser barnet os om, hvad det kan lide, og hvad der gør det trygt",
                "Hvad har I set barnet glæde sig over, og hvad søger det, når det skal trøstes?",
            )
            .required()],
        },
        DefaultSection {
            title: "Aftaler for opstarten",
            description: "",
            questions: &[
                date("Barnets første dag", ""),
                text(
                    "Aftaler om indkøringen",
                    "Hvem er med de første dage, og hvor længe?",
                ),
                text("Det vil vi gerne have, at dagtilbuddet fortæller os", ""),
            ],
        },
    ],
};

const NURSERY_KINDERGARTEN: DefaultTemplate = DefaultTemplate {
    kind: TransitionKind::NurseryKindergarten,
    title: "Overlevering fra vuggestue til børnehave",
    intro: "Skemaet forbereder barnets skift fra vuggestue eller dagpleje til børnehave. Beskriv \
det, barnet er godt til, og det, der hjælper barnet i hverdagen.",
    sections: &[
        DefaultSection {
            title: "Barnets trivsel og udvikling",
            description: "Temaerne følger den styrkede pædagogiske læreplan.",
            questions: &[
                light(
                    "Barnets trivsel lige nu",
                    "Jeres samlede vurdering af, hvordan barnet har det i hverdagen.",
                    "wellbeing",
                ),
                scale(
                    "Barnets personlige udvikling",
                    "Fx nysgerrighed, gåpåmod og at søge trøst og hjælp.",
                    "personal",
                ),
                scale(
                    "Barnets sociale udvikling",
                    "Fx at lege ved siden af og sammen med andre og at være en del af gruppen.",
                    "social",
                ),
                scale(
                    "Barnets kommunikation og sprog",
                    "Fx lyde, ord og små sætninger, pegning og mimik, at forstå enkle beskeder.",
                    "language",
                ),
                scale(
                    "Barnets krop, sanser og bevægelse",
                    "Fx at gå, klatre og bruge hænderne, og at mærke sult og træthed.",
                    "body",
                ),
                text(GOOD_AT, GOOD_AT_HELP).required(),
            ],
        },
        DefaultSection {
            title: "Sprog",
            description: "",
            questions: &[
                single("Vokser barnet op med flere sprog?", "", &MULTILINGUAL),
                text("Hvilke sprog taler barnet, og med hvem?", ""),
                text("Det styrker barnets sprog", ""),
            ],
        },
        DefaultSection {
            title: "Hverdagsliv",
            description: "",
            questions: &[
                text("Søvn, mad og toiletvaner", ""),
                text(
                    "Det hjælper barnet ved skift i løbet af dagen",
                    "Fx ved aflevering, måltider og når der skal sove til middag.",
                ),
            ],
        },
        DefaultSection {
            title: "Støtte og særlige hensyn",
            description: SUPPORT_SECTION,
            questions: &[
                text("Indsatser, der er prøvet eller i gang", "").sensitive(),
                single(
                    "Er PPR involveret?",
                    "Pædagogisk Psykologisk Rådgivning.",
                    &PPR,
                )
                .sensitive(),
                text("Helbred eller hensyn, børnehaven skal kende", "").sensitive(),
            ],
        },
        DefaultSection {
            title: "Barnets egen stemme",
            description: "Små børn fortæller med kroppen og legen.",
            questions: &[text(
                "Det viser og fortæller barnet os",
                "Hvad har I set barnet glæde sig over, og hvad søger barnet?",
            )
            .required()],
        },
        DefaultSection {
            title: "Forældrenes perspektiv",
            description: PARENTS_SECTION,
            questions: &[
                text("Det er vigtigt for os, at børnehaven ved om vores barn", ""),
                text("Det glæder vi os til, og det er vi spændte på", ""),
            ],
        },
        DefaultSection {
            title: "Aftaler for den første tid",
            description: "",
            questions: &[
                text(
                    "Aftaler for opstarten i børnehaven",
                    "Fx besøg, en fast voksen, et kendt barn fra vuggestuen.",
                ),
                date("Dato for opfølgning", ""),
            ],
        },
    ],
};

const KINDERGARTEN_SFO: DefaultTemplate = DefaultTemplate {
    kind: TransitionKind::KindergartenSfo,
    title: "Overlevering fra børnehave til SFO",
    intro: "Skemaet handler om barnets fritid: leg, venskaber og hverdagsliv i SFO'en. Det, der \
handler om skolestarten, står i overleveringen til skolen.",
    sections: &[
        DefaultSection {
            title: "Leg og fællesskaber",
            description: "",
            questions: &[
                scale(
                    "Barnets leg og deltagelse i fællesskaber",
                    "Fx at finde nogen at lege med, at komme ind i en leg og at lege i større \
grupper.",
                    "play",
                ),
                scale(
                    "Barnets sociale udvikling",
                    "Fx venskaber, at skiftes og at løse uenigheder.",
                    "social",
                ),
                text("Barnets yndlingslege og interesser", "").required(),
                text("Venner, barnet gerne vil holde fast i", ""),
            ],
        },
        DefaultSection {
            title: "Selvhjulpenhed og hverdag",
            description: "",
            questions: &[
                scale(
                    "Barnets selvhjulpenhed",
                    "Fx påklædning, madpakke, at holde styr på sine ting og at bede om hjælp.",
                    "independence",
                ),
                text(
                    "Det hjælper barnet i skift og i store grupper",
                    "Fx at vide, hvad der skal ske, en fast voksen, et roligt sted at trække sig \
til.",
                ),
            ],
        },
        DefaultSection {
            title: "Støtte og særlige hensyn",
            description: SUPPORT_SECTION,
            questions: &[
                text("Indsatser, der er i gang, og som SFO'en skal kende", "").sensitive(),
                text("Helbred eller hensyn, SFO'en skal kende", "").sensitive(),
            ],
        },
        DefaultSection {
            title: "Barnets egen stemme",
            description: "",
            questions: &[
                text(
                    "Det glæder barnet sig til i SFO'en",
                    "Brug gerne barnets egne ord.",
                )
                .required(),
                multi(
                    "Sådan har vi spurgt barnet",
                    "Vælg alle, der passer.",
                    &HOW_HEARD,
                ),
            ],
        },
        DefaultSection {
            title: "Forældrenes perspektiv",
            description: PARENTS_SECTION,
            questions: &[text(
                "Det er vigtigt for os, at SFO'en ved om vores barn",
                "",
            )],
        },
        DefaultSection {
            title: "Aftaler for den første tid",
            description: "",
            questions: &[
                text("Aftaler for de første uger i SFO'en", ""),
                date("Dato for opfølgning", ""),
            ],
        },
    ],
};

const SCHOOL_CLUB: DefaultTemplate = DefaultTemplate {
    kind: TransitionKind::SchoolClub,
    title: "Overlevering fra skole og SFO til klub",
    intro: "Skemaet hjælper klubben med at tage godt imod barnet. Det handler om fritid, \
fællesskaber og det, der virker – skrevet, så barnet kan genkende sig selv.",
    sections: &[
        DefaultSection {
            title: "Fritid og interesser",
            description: "",
            questions: &[
                text(
                    "Barnets interesser og fritidsaktiviteter",
                    "Fx sport, musik, gaming, kreative ting, at være ude.",
                )
                .required(),
                light(
                    "Barnets trivsel lige nu",
                    "Jeres samlede vurdering af, hvordan barnet har det.",
                    "wellbeing",
                ),
            ],
        },
        DefaultSection {
            title: "Venskaber og fællesskaber",
            description: "",
            questions: &[
                scale(
                    "Barnets deltagelse i fællesskaber",
                    "Fx venskaber, at være med i grupper og at løse uenigheder.",
                    "social",
                ),
                text("Venner og fællesskaber, der er gode for barnet", ""),
            ],
        },
        DefaultSection {
            title: "Det, der virker",
            description: "",
            questions: &[
                text(
                    "Barnet trives bedst, når …",
                    "Fx tydelige aftaler, en voksen at gå til, at få ansvar.",
                ),
                text(
                    "Det kan være svært for barnet, når …",
                    "Beskriv situationen, ikke barnet, og hvad der så hjælper.",
                ),
            ],
        },
        DefaultSection {
            title: "Støtte og særlige hensyn",
            description: SUPPORT_SECTION,
            questions: &[
                text("Indsatser, der er i gang, og som klubben skal kende", "").sensitive(),
                single(
                    "Er PPR involveret?",
                    "Pædagogisk Psykologisk Rådgivning.",
                    &PPR,
                )
                .sensitive(),
            ],
        },
        DefaultSection {
            title: "Barnets egen stemme",
            description: "",
            questions: &[text(
                "Det ønsker barnet sig af klubben",
                "Brug gerne barnets egne ord.",
            )
            .required()],
        },
        DefaultSection {
            title: "Forældrenes perspektiv",
            description: PARENTS_SECTION,
            questions: &[text(
                "Det er vigtigt for os, at klubben ved om vores barn",
                "",
            )],
        },
        DefaultSection {
            title: "Aftaler for den første tid",
            description: "",
            questions: &[
                text("Aftaler for starten i klubben", ""),
                date("Dato for opfølgning", ""),
            ],
        },
    ],
};

const SCHOOL_YOUTH: DefaultTemplate = DefaultTemplate {
    kind: TransitionKind::SchoolYouth,
    title: "Overlevering fra grundskole til ungdomsuddannelse",
    intro: "Skemaet udfyldes sammen med den unge. Det skal give uddannelsesstedet et godt \
grundlag for at tage imod den unge og fortsætte det, der virker. Den unge og forældrene ser \
alt, før det sendes.",
    sections: &[
        DefaultSection {
            title: "Styrker og interesser",
            description: "",
            questions: &[
                text(
                    "Den unges styrker",
                    "Fagligt, socialt og personligt – det, den unge selv er stolt af.",
                )
                .required(),
                text("Interesser og fritid", ""),
            ],
        },
        DefaultSection {
            title: "Læring og skolegang",
            description: "",
            questions: &[
                scale(
                    "Den unges faglige forudsætninger",
                    "Samlet set, i forhold til den valgte uddannelse.",
                    "learning",
                ),
                light("Fremmøde og stabilitet i skolegangen", "", "attendance"),
                text(
                    "Det hjælper den unge med at lære",
                    "Fx struktur, it-hjælpemidler, at arbejde sammen med andre.",
                ),
            ],
        },
        DefaultSection {
            title: "Trivsel og fællesskaber",
            description: "",
            questions: &[
                light("Den unges trivsel lige nu", "", "wellbeing"),
                scale(
                    "Den unges deltagelse i fællesskaber",
                    "I klassen, i gruppearbejde og i fritiden.",
                    "social",
                ),
            ],
        },
        DefaultSection {
            title: "Støtte og særlige hensyn",
            description: SUPPORT_SECTION,
            questions: &[
                text(
                    "Støtte i grundskolen",
                    "Fx ordblindeundervisning, it-rygsæk, mentor, specialundervisning.",
                )
                .sensitive(),
                single(
                    "Er der brug for specialpædagogisk støtte (SPS) på uddannelsen?",
                    "",
                    &["Ja", "Nej", "Det skal afklares"],
                )
                .sensitive(),
                text("Samarbejde med vejledning eller kommunen", "").sensitive(),
            ],
        },
        DefaultSection {
            title: "Den unges egen stemme",
            description: "",
            questions: &[
                text("Det siger den unge selv om sin nye uddannelse", "").required(),
                text("Det har den unge brug for i starten", ""),
            ],
        },
        DefaultSection {
            title: "Forældrenes perspektiv",
            description: PARENTS_SECTION,
            questions: &[text("Det er vigtigt for os, at uddannelsesstedet ved", "")],
        },
        DefaultSection {
            title: "Aftaler for den første tid",
            description: "",
            questions: &[
                text(
                    "Aftaler for opstarten",
                    "Fx en kontaktperson og et opfølgningsmøde.",
                ),
                date("Dato for opfølgning", ""),
            ],
        },
    ],
};

/// One default template per transition kind, in `TransitionKind::ALL` order.
pub const TEMPLATES: [&DefaultTemplate; 6] = [
    &HOME_DAYCARE,
    &NURSERY_KINDERGARTEN,
    &KINDERGARTEN_SCHOOL,
    &KINDERGARTEN_SFO,
    &SCHOOL_CLUB,
    &SCHOOL_YOUTH,
];

/// Publishes version 1 of the default template for every transition kind the municipality has
/// no template for yet. Returns how many were installed. Runs in the caller's transaction,
/// which must be scoped to `municipality_id`.
pub async fn install(tx: &mut Tx, municipality_id: Uuid) -> Result<usize, sqlx::Error> {
    let mut installed = 0;
    for t in TEMPLATES {
        let exists = sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM form_templates
                              WHERE municipality_id = $1 AND transition_kind = $2) AS "e!""#,
            municipality_id,
            t.kind.as_str()
        )
        .fetch_one(&mut **tx)
        .await?;
        if exists {
            continue;
        }
        let template_id: Uuid = sqlx::query_scalar!(
            "INSERT INTO form_templates (municipality_id, transition_kind, version, title, intro)
             VALUES ($1, $2, 1, $3, $4) RETURNING id",
            municipality_id,
            t.kind.as_str(),
            t.title,
            t.intro
        )
        .fetch_one(&mut **tx)
        .await?;
        insert_content(tx, municipality_id, template_id, t).await?;
        sqlx::query!(
            "UPDATE form_templates SET status = 'published', published_at = now()
             WHERE municipality_id = $1 AND id = $2",
            municipality_id,
            template_id
        )
        .execute(&mut **tx)
        .await?;
        let actor = Actor {
            municipality_id: Some(municipality_id),
            role: Some("system".into()),
            ..Default::default()
        };
        audit::record(
            tx,
            &actor,
            Entry::new("install_default", "form_template", Some(template_id))
                .details(json!({"transition_kind": t.kind.as_str(), "version": 1})),
        )
        .await?;
        installed += 1;
    }
    Ok(installed)
}

/// Sections and questions in two statements (arrays), not one round trip per question: this
/// runs for every new municipality and every test database.
async fn insert_content(
    tx: &mut Tx,
    municipality_id: Uuid,
    template_id: Uuid,
    t: &DefaultTemplate,
) -> Result<(), sqlx::Error> {
    let section_ids: Vec<Uuid> = t.sections.iter().map(|_| Uuid::new_v4()).collect();
    let positions: Vec<i32> = (1..=t.sections.len() as i32).collect();
    let titles: Vec<String> = t.sections.iter().map(|s| s.title.to_string()).collect();
    let descriptions: Vec<String> = t
        .sections
        .iter()
        .map(|s| s.description.to_string())
        .collect();
    sqlx::query!(
        "INSERT INTO template_sections (municipality_id, id, template_id, position, title, description)
         SELECT $1, s.id, $2, s.position, s.title, s.description
         FROM unnest($3::uuid[], $4::int4[], $5::text[], $6::text[]) AS s(id, position, title, description)",
        municipality_id,
        template_id,
        &section_ids,
        &positions,
        &titles,
        &descriptions
    )
    .execute(&mut **tx)
    .await?;

    let mut q_section = Vec::new();
    let mut q_position = Vec::new();
    let mut q_kind = Vec::new();
    let mut q_label = Vec::new();
    let mut q_help = Vec::new();
    let mut q_options = Vec::new();
    let mut q_required = Vec::new();
    let mut q_receiver = Vec::new();
    let mut q_parents = Vec::new();
    let mut q_sensitive = Vec::new();
    let mut q_theme = Vec::new();
    for (section, section_id) in t.sections.iter().zip(&section_ids) {
        for (i, q) in section.questions.iter().enumerate() {
            q_section.push(*section_id);
            q_position.push(i as i32 + 1);
            q_kind.push(q.kind.as_str().to_string());
            q_label.push(q.label.to_string());
            q_help.push(q.help.to_string());
            // Options never contain a line break (checked in the tests below).
            q_options.push(q.options.join("\n"));
            q_required.push(q.required);
            q_receiver.push(q.visible_to_receiver);
            q_parents.push(q.visible_to_parents);
            q_sensitive.push(q.sensitive);
            q_theme.push(q.theme.unwrap_or_default().to_string());
        }
    }
    sqlx::query!(
        "INSERT INTO template_questions (municipality_id, template_id, section_id, position, kind, label,
                                         help_text, options, required, visible_to_receiver,
                                         visible_to_parents, sensitive, theme)
         SELECT $1, $2, q.section_id, q.position, q.kind, q.label, q.help,
                string_to_array(q.options, E'\\n'), q.required, q.receiver, q.parents, q.sensitive,
                NULLIF(q.theme, '')
         FROM unnest($3::uuid[], $4::int4[], $5::text[], $6::text[], $7::text[], $8::text[],
                     $9::bool[], $10::bool[], $11::bool[], $12::bool[], $13::text[])
              AS q(section_id, position, kind, label, help, options, required, receiver, parents,
                   sensitive, theme)",
        municipality_id,
        template_id,
        &q_section,
        &q_position,
        &q_kind,
        &q_label,
        &q_help,
        &q_options,
        &q_required,
        &q_receiver,
        &q_parents,
        &q_sensitive,
        &q_theme
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::kinds::theme_label;

    #[test]
    fn every_kind_has_one_well_formed_template() {
        for (t, kind) in TEMPLATES.iter().zip(TransitionKind::ALL) {
            assert_eq!(t.kind, kind);
            assert!(!t.sections.is_empty() && t.title.len() <= 200 && t.intro.len() <= 4000);
            for s in t.sections {
                assert!(!s.questions.is_empty(), "{}: {}", t.title, s.title);
                for q in s.questions {
                    assert!(!q.label.is_empty() && q.label.chars().count() <= 500);
                    assert_eq!(q.kind.has_options(), q.options.len() >= 2, "{}", q.label);
                    assert!(q.options.iter().all(|o| !o.is_empty() && !o.contains('\n')));
                    assert!(
                        q.theme.is_none_or(|k| theme_label(k).is_some()),
                        "{}",
                        q.label
                    );
                    if matches!(q.kind, QuestionKind::Scale1To4 | QuestionKind::TrafficLight) {
                        assert!(
                            q.theme.is_some(),
                            "scales are compared by theme: {}",
                            q.label
                        );
                    }
                }
            }
            assert!(
                t.sections
                    .iter()
                    .any(|s| s.title.contains("stemme") && s.questions.iter().any(|q| q.required)),
                "the child's own voice is part of every handover: {}",
                t.title
            );
        }
    }

    #[test]
    fn kindergarten_school_follows_the_curriculum() {
        let themes: Vec<&str> = KINDERGARTEN_SCHOOL
            .sections
            .iter()
            .flat_map(|s| s.questions)
            .filter(|q| q.kind == QuestionKind::Scale1To4)
            .filter_map(|q| q.theme)
            .collect();
        assert_eq!(
            themes,
            ["personal", "social", "language", "body", "nature", "culture"]
        );
    }
}
