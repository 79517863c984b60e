namespace RsMoe.Evaluation.Captions;

/// <summary>The Snowball English (Porter2) stemmer, which METEOR's stem module uses.</summary>
public static class SnowballEnglishStemmer
{
    static readonly Dictionary<string, string> Exceptions = new(StringComparer.Ordinal)
    {
        ["skis"] = "ski", ["skies"] = "sky", ["dying"] = "die", ["lying"] = "lie", ["tying"] = "tie",
        ["idly"] = "idl", ["gently"] = "gentl", ["ugly"] = "ugli", ["early"] = "earli", ["only"] = "onli", ["singly"] = "singl",
        ["sky"] = "sky", ["news"] = "news", ["howe"] = "howe", ["atlas"] = "atlas", ["cosmos"] = "cosmos", ["bias"] = "bias", ["andes"] = "andes",
    };

    static readonly HashSet<string> AfterStep1a = ["inning", "outing", "canning", "herring", "earring", "proceed", "exceed", "succeed"];

    static readonly (string Suffix, string Replacement)[] Step2Rules =
    [
        ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("abli", "able"), ("entli", "ent"),
        ("ization", "ize"), ("izer", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("aliti", "al"), ("alli", "al"),
        ("fulness", "ful"), ("ousness", "ous"), ("ousli", "ous"), ("iveness", "ive"), ("iviti", "ive"), ("biliti", "ble"),
        ("bli", "ble"), ("ogi", "og"), ("fulli", "ful"), ("lessli", "less"), ("li", ""),
    ];

    static readonly (string Suffix, string Replacement)[] Step3Rules =
    [
        ("ational", "ate"), ("tional", "tion"), ("alize", "al"), ("icate", "ic"), ("iciti", "ic"), ("ical", "ic"),
        ("ful", ""), ("ness", ""), ("ative", ""),
    ];

    static readonly string[] Step4Suffixes =
    [
        "ement", "ance", "ence", "able", "ible", "ment", "ant", "ent", "ism", "ate", "iti", "ous", "ive", "ize", "ion", "al", "er", "ic",
    ];

    static bool IsVowel(char c) => c is 'a' or 'e' or 'i' or 'o' or 'u' or 'y';

    public static string Stem(string input)
    {
        if (input.Length <= 2) return input;
        string word = input.ToLowerInvariant();
        if (Exceptions.TryGetValue(word, out var exception)) return exception;

        var w = new System.Text.StringBuilder(word.StartsWith('\'') ? word[1..] : word);
        for (int i = 0; i < w.Length; i++)
            if (w[i] == 'y' && (i == 0 || IsVowel(w[i - 1]))) w[i] = 'Y';
        string s = w.ToString();

        int r1 = RegionStart(s, 0, prefixes: true), r2 = RegionStart(s, r1, prefixes: false);

        s = Step0(s);
        s = Step1a(s);
        if (AfterStep1a.Contains(s)) return s;
        s = Step1b(s, r1);
        s = Step1c(s);
        s = ApplyRules(s, Step2Rules, r1, step2: true);
        s = Step3(s, r1, r2);
        s = Step4(s, r2);
        s = Step5(s, r1, r2);
        return s.Replace('Y', 'y');
    }

    static int RegionStart(string s, int from, bool prefixes)
    {
        if (prefixes)
            foreach (var prefix in new[] { "gener", "commun", "arsen" })
                if (s.StartsWith(prefix, StringComparison.Ordinal)) return prefix.Length;
        for (int i = from + 1; i < s.Length; i++)
            if (!IsVowel(s[i]) && IsVowel(s[i - 1])) return i + 1;
        return s.Length;
    }

    static bool EndsWithShortSyllable(string s)
    {
        int n = s.Length;
        if (n == 2) return IsVowel(s[0]) && !IsVowel(s[1]);
        if (n >= 3) return !IsVowel(s[n - 3]) && IsVowel(s[n - 2]) && !IsVowel(s[n - 1]) && s[n - 1] is not ('w' or 'x' or 'Y');
        return false;
    }

    static bool IsShort(string s, int r1) => r1 >= s.Length && EndsWithShortSyllable(s);

    static bool HasVowel(string s, int end)
    {
        for (int i = 0; i < end; i++) if (IsVowel(s[i])) return true;
        return false;
    }

    static string Step0(string s)
    {
        foreach (var suffix in new[] { "'s'", "'s", "'" })
            if (s.EndsWith(suffix, StringComparison.Ordinal)) return s[..^suffix.Length];
        return s;
    }

    static string Step1a(string s)
    {
        if (s.EndsWith("sses", StringComparison.Ordinal)) return s[..^2];
        if (s.EndsWith("ied", StringComparison.Ordinal) || s.EndsWith("ies", StringComparison.Ordinal))
            return s.Length > 4 ? s[..^2] : s[..^1];
        if (s.EndsWith("us", StringComparison.Ordinal) || s.EndsWith("ss", StringComparison.Ordinal)) return s;
        if (s.EndsWith('s') && s.Length >= 2 && HasVowel(s, s.Length - 2)) return s[..^1];
        return s;
    }

    static string Step1b(string s, int r1)
    {
        foreach (var suffix in new[] { "eedly", "eed" })
            if (s.EndsWith(suffix, StringComparison.Ordinal))
                return s.Length - suffix.Length >= r1 ? s[..^suffix.Length] + "ee" : s;
        foreach (var suffix in new[] { "ingly", "edly", "ing", "ed" })
        {
            if (!s.EndsWith(suffix, StringComparison.Ordinal)) continue;
            string stem = s[..^suffix.Length];
            if (!HasVowel(stem, stem.Length)) return s;
            if (stem.EndsWith("at", StringComparison.Ordinal) || stem.EndsWith("bl", StringComparison.Ordinal) || stem.EndsWith("iz", StringComparison.Ordinal))
                return stem + "e";
            if (stem.Length >= 2 && stem[^1] == stem[^2] && stem[^1] is 'b' or 'd' or 'f' or 'g' or 'm' or 'n' or 'p' or 'r' or 't')
                return stem[..^1];
            if (IsShort(stem, r1)) return stem + "e";
            return stem;
        }
        return s;
    }

    static string Step1c(string s)
    {
        if (s.Length > 2 && (s[^1] is 'y' or 'Y') && !IsVowel(s[^2])) return s[..^1] + "i";
        return s;
    }

    static string ApplyRules(string s, (string Suffix, string Replacement)[] rules, int r1, bool step2)
    {
        var match = rules.Where(r => s.EndsWith(r.Suffix, StringComparison.Ordinal)).OrderByDescending(r => r.Suffix.Length).FirstOrDefault();
        if (match.Suffix is null) return s;
        int start = s.Length - match.Suffix.Length;
        if (start < r1) return s;
        if (step2 && match.Suffix == "ogi" && (start == 0 || s[start - 1] != 'l')) return s;
        if (step2 && match.Suffix == "li" && (start == 0 || s[start - 1] is not ('c' or 'd' or 'e' or 'g' or 'h' or 'k' or 'm' or 'n' or 'r' or 't'))) return s;
        return s[..start] + match.Replacement;
    }

    static string Step3(string s, int r1, int r2)
    {
        var match = Step3Rules.Where(r => s.EndsWith(r.Suffix, StringComparison.Ordinal)).OrderByDescending(r => r.Suffix.Length).FirstOrDefault();
        if (match.Suffix is null) return s;
        int start = s.Length - match.Suffix.Length;
        if (start < r1) return s;
        if (match.Suffix == "ative" && start < r2) return s;
        return s[..start] + match.Replacement;
    }

    static string Step4(string s, int r2)
    {
        var suffix = Step4Suffixes.Where(x => s.EndsWith(x, StringComparison.Ordinal)).OrderByDescending(x => x.Length).FirstOrDefault();
        if (suffix is null) return s;
        int start = s.Length - suffix.Length;
        if (start < r2) return s;
        if (suffix == "ion" && (start == 0 || s[start - 1] is not ('s' or 't'))) return s;
        return s[..start];
    }

    static string Step5(string s, int r1, int r2)
    {
        if (s.EndsWith('e'))
        {
            int start = s.Length - 1;
            if (start >= r2 || (start >= r1 && !EndsWithShortSyllable(s[..start]))) return s[..start];
            return s;
        }
        if (s.EndsWith('l') && s.Length - 1 >= r2 && s.Length >= 2 && s[^2] == 'l') return s[..^1];
        return s;
    }
}
