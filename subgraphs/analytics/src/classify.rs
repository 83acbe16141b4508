//! Position categories from free-text job titles, by keyword rules checked
//! in order (the first matching rule wins, so specific rules come before
//! general ones: "React Native" is Mobile before React makes it Frontend).

/// The categories, in the order the API lists them.
pub const CATEGORIES: [&str; 13] = [
    "Frontend",
    "Backend",
    "Full-stack",
    "Mobile",
    "DevOps",
    "Data",
    "ML/AI",
    "QA",
    "Security",
    "Design",
    "Product",
    "Management",
    "Other",
];

/// (category, phrases): a phrase matches whole words of the normalised title.
const RULES: &[(&str, &[&str])] = &[
    (
        "Management",
        &[
            "engineering manager",
            "head of",
            "director",
            "vp",
            "vice president",
            "cto",
            "chief",
            "team lead",
            "manager engineering",
            "development manager",
            "delivery manager",
        ],
    ),
    (
        "Product",
        &["product manager", "product owner", "technical product owner", "product lead", "product management", "pm"],
    ),
    (
        "ML/AI",
        &[
            "machine learning",
            "ml",
            "ai",
            "artificial intelligence",
            "deep learning",
            "llm",
            "nlp",
            "computer vision",
            "mlops",
            "ml ops",
        ],
    ),
    (
        "Security",
        &[
            "security",
            "appsec",
            "devsecops",
            "penetration",
            "pentester",
            "infosec",
            "soc analyst",
            "cyber",
            "cybersecurity",
        ],
    ),
    (
        "QA",
        &["qa", "quality assurance", "test", "tester", "testing", "sdet", "quality engineer", "automation engineer"],
    ),
    (
        "DevOps",
        &[
            "devops",
            "sre",
            "site reliability",
            "platform engineer",
            "platform engineering",
            "infrastructure",
            "cloud engineer",
            "cloud infrastructure",
            "kubernetes",
            "release engineer",
            "build engineer",
            "reliability",
        ],
    ),
    ("Mobile", &["mobile", "ios", "android", "react native", "flutter", "swift", "kotlin", "xamarin"]),
    ("Full-stack", &["full stack", "fullstack", "full-stack"]),
    (
        "Data",
        &[
            "data",
            "analyst",
            "analytics",
            "bi",
            "business intelligence",
            "etl",
            "data scientist",
            "statistician",
            "dbt",
        ],
    ),
    (
        "Frontend",
        &[
            "frontend",
            "front end",
            "front-end",
            "react",
            "vue",
            "angular",
            "javascript",
            "typescript",
            "css",
            "web developer",
            "ui engineer",
            "svelte",
        ],
    ),
    ("Design", &["designer", "design", "ux", "ui", "user experience", "user interface", "illustrator", "visual"]),
    (
        "Backend",
        &[
            "backend",
            "back end",
            "back-end",
            "server",
            "api",
            "rust",
            "golang",
            "go",
            "java",
            "python",
            "ruby",
            "php",
            "elixir",
            "node",
            "nodejs",
            "c#",
            ".net",
            "scala",
            "software engineer",
            "software developer",
            "programmer",
            "developer",
            "engineer",
        ],
    ),
];

/// The words of a title, lower-cased, punctuation turned into spaces (but
/// keeping `#`, `.` and `-` inside words: C#, .NET, full-stack).
fn normalise(title: &str) -> String {
    let lowered = title.to_lowercase();
    let cleaned: String = lowered
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '#' | '.' | '-' | '+') { c } else { ' ' })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn contains_phrase(words: &str, phrase: &str) -> bool {
    let padded = format!(" {words} ");
    // "full-stack" also matches "full stack"; hyphens split words otherwise.
    padded.contains(&format!(" {phrase} "))
        || padded.replace('-', " ").contains(&format!(" {} ", phrase.replace('-', " ")))
}

/// The category of a job title.
pub fn position_category(title: &str) -> &'static str {
    let words = normalise(title);
    RULES
        .iter()
        .find(|(_, phrases)| phrases.iter().any(|phrase| contains_phrase(&words, phrase)))
        .map_or("Other", |(category, _)| category)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_titles_fall_in_the_expected_category() {
        let cases = [
            ("Senior React Developer", "Frontend"),
            ("Frontend Engineer", "Frontend"),
            ("Front-End Developer (Vue.js)", "Frontend"),
            ("Angular Developer", "Frontend"),
            ("JavaScript Engineer", "Frontend"),
            ("Web Developer", "Frontend"),
            ("UI Engineer", "Frontend"),
            ("Backend Engineer (Rust)", "Backend"),
            ("Back-end Developer", "Backend"),
            ("Senior Java Developer", "Backend"),
            ("Golang Engineer", "Backend"),
            ("Python Developer", "Backend"),
            ("Software Engineer", "Backend"),
            ("Staff Software Engineer", "Backend"),
            ("C# .NET Developer", "Backend"),
            ("API Engineer", "Backend"),
            ("Node.js Developer", "Backend"),
            ("Full Stack Developer", "Full-stack"),
            ("Full-stack Engineer", "Full-stack"),
            ("Fullstack Developer (TypeScript)", "Full-stack"),
            ("iOS Engineer", "Mobile"),
            ("Android Developer", "Mobile"),
            ("Mobile Developer (Flutter)", "Mobile"),
            ("React Native Developer", "Mobile"),
            ("Swift Developer", "Mobile"),
            ("DevOps Engineer", "DevOps"),
            ("SRE / Platform Engineer", "DevOps"),
            ("Site Reliability Engineer", "DevOps"),
            ("Cloud Infrastructure Engineer", "DevOps"),
            ("Kubernetes Administrator", "DevOps"),
            ("Platform Engineer", "DevOps"),
            ("Data Analyst", "Data"),
            ("Data Engineer", "Data"),
            ("Data Scientist", "Data"),
            ("BI Developer", "Data"),
            ("Analytics Engineer", "Data"),
            ("Business Intelligence Analyst", "Data"),
            ("Machine Learning Engineer", "ML/AI"),
            ("ML Engineer", "ML/AI"),
            ("AI Research Engineer", "ML/AI"),
            ("NLP Scientist", "ML/AI"),
            ("Computer Vision Engineer", "ML/AI"),
            ("MLOps Engineer", "ML/AI"),
            ("QA Engineer", "QA"),
            ("Test Automation Engineer", "QA"),
            ("Software Tester", "QA"),
            ("SDET", "QA"),
            ("Quality Assurance Analyst", "QA"),
            ("Security Engineer", "Security"),
            ("Application Security Engineer", "Security"),
            ("Penetration Tester", "Security"),
            ("Cybersecurity Analyst", "Security"),
            ("DevSecOps Engineer", "Security"),
            ("Product Designer", "Design"),
            ("UX/UI Designer", "Design"),
            ("UX Researcher", "Design"),
            ("Graphic Designer", "Design"),
            ("Product Manager", "Product"),
            ("Senior Product Owner", "Product"),
            ("Technical Product Owner", "Product"),
            ("Engineering Manager", "Management"),
            ("Head of Engineering", "Management"),
            ("Director of Engineering", "Management"),
            ("VP Engineering", "Management"),
            ("CTO", "Management"),
            ("Team Lead Backend", "Management"),
            ("Embedded Software Engineer", "Backend"),
            ("Technical Writer", "Other"),
            ("Recruiter", "Other"),
            ("Barista", "Other"),
            ("", "Other"),
        ];
        assert!(cases.len() >= 60);
        let wrong: Vec<String> = cases
            .iter()
            .filter(|(title, expected)| position_category(title) != *expected)
            .map(|(title, expected)| format!("{title:?}: expected {expected}, got {}", position_category(title)))
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn every_rule_names_a_known_category() {
        assert!(RULES.iter().all(|(category, _)| CATEGORIES.contains(category)));
    }
}
