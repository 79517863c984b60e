namespace RsMoe.Captions;

/// <summary>One expert's part of a caption.</summary>
public sealed record CaptionSection(string Aspect, string Expert, string Text);

/// <summary>
/// Joins the experts' sections in the order given (the experts' roles are listed in caption order: theme, objects,
/// relationships), dropping a sentence that repeats an earlier one (compared without case, spacing or final
/// punctuation), as PAPER.md reads the paper. A section every sentence of which repeats an earlier section keeps its
/// text (the expert did write it, and an empty section would say it wrote nothing); the caption still holds it once.
/// </summary>
public static class SectionMerger
{
    public static (string Caption, IReadOnlyList<CaptionSection> Sections) Merge(IEnumerable<CaptionSection> sections)
    {
        var ordered = sections.ToList();
        var seen = new HashSet<string>();
        var kept = new List<CaptionSection>();
        foreach (var section in ordered)
        {
            var sentences = SplitSentences(section.Text).Where(s => seen.Add(Key(s))).ToList();
            kept.Add(section with { Text = string.Join(' ', sentences) });
        }
        string caption = string.Join(' ', kept.Select(s => s.Text).Where(t => t.Length > 0));
        return (caption, kept.Select((s, i) => s.Text.Length == 0 ? ordered[i] with { Text = ordered[i].Text.Trim() } : s).ToList());
    }

    static IEnumerable<string> SplitSentences(string text)
    {
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] is '.' or '!' or '?' && (i + 1 == text.Length || text[i + 1] == ' '))
            {
                var sentence = text[start..(i + 1)].Trim();
                if (sentence.Length > 0) yield return sentence;
                start = i + 1;
            }
        }
        var rest = text[start..].Trim();
        if (rest.Length > 0) yield return rest;
    }

    /// <summary>Whether every sentence of <paramref name="text"/> is already among <paramref name="earlier"/> (a section that only repeats).</summary>
    public static bool OnlyRepeats(string text, IEnumerable<string> earlier)
    {
        var seen = earlier.SelectMany(SplitSentences).Select(Key).ToHashSet();
        var mine = SplitSentences(text).ToList();
        return mine.Count > 0 && mine.All(s => seen.Contains(Key(s)));
    }

    static string Key(string sentence) => string.Join(' ', sentence.ToLowerInvariant().TrimEnd('.', '!', '?').Split(' ', StringSplitOptions.RemoveEmptyEntries));
}
