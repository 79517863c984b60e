namespace RsMoe.Captions;

/// <summary>One expert's part of a caption.</summary>
public sealed record CaptionSection(string Aspect, string Expert, string Text);

/// <summary>
/// Joins the experts' sections in the order given (the experts' roles are listed in caption order: theme, objects,
/// relationships), dropping a sentence that repeats an earlier one (compared without case, spacing or final
/// punctuation), as PAPER.md reads the paper.
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
        return (string.Join(' ', kept.Select(s => s.Text).Where(t => t.Length > 0)), kept);
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

    static string Key(string sentence) => string.Join(' ', sentence.ToLowerInvariant().TrimEnd('.', '!', '?').Split(' ', StringSplitOptions.RemoveEmptyEntries));
}
