using System.Text.RegularExpressions;
using RsMoe.Data.Datasets;

namespace RsMoe.Data.Aspects;

/// <summary>
/// Splits a caption into sentences and labels each with the aspect it describes, as PAPER.md reads the paper:
/// <b>theme</b> (the overall description of the scene: the first sentence, and later sentences that sum the scene
/// up), <b>relationships</b> (where things are, relative to the image or to each other), <b>objects</b> (the rest:
/// kinds, colours, sizes, counts). Deterministic: the same caption always gives the same labels.
/// </summary>
public static partial class AspectSplitter
{
    public const string Theme = RsMoe.Captions.CaptionPolicy.Theme, Objects = RsMoe.Captions.CaptionPolicy.Objects, Relationships = RsMoe.Captions.CaptionPolicy.Relationships;

    // Where things are: in the image (regions, corners, sides, compass) or relative to each other.
    [GeneratedRegex(@"\b(top|bottom|upper|lower|left|right|cent(er|re|ral)|middle|corners?|edges?|sides?|borders?|margins?|" +
                    @"next to|beside|besides|near(by)?|adjacent|surround(s|ed|ing)?|between|along(side)?|across|parallel|in front of|behind|above|below|beneath|underneath|" +
                    @"north(ern|east|west)?|south(ern|east|west)?|east(ern)?|west(ern)?|vertical(ly)?|horizontal(ly)?|diagonal(ly)?|intersect(s|ed|ing|ion)?|" +
                    @"around|close to|opposite|facing|runs? through|pass(es)? through|cross(es|ing)?|connect(s|ed|ing)?|in (a )?rows?|in a line|arranged|located|situated|" +
                    @"on (the|either|both) (side|sides)|extend(s|ing)? (from|to|across))\b", RegexOptions.IgnoreCase)]
    private static partial Regex RelationCue();

    // Sentences that characterise the whole scene.
    [GeneratedRegex(@"^(this|the) (is an?|image|picture|photo|scene|area|aerial|satellite|remote)|\b(overall|in summary|in general|generally|the (whole|entire) (image|scene|area)|" +
                    @"the scene (is|shows|depicts)|(this|the) image (shows|depicts|presents|captures|displays|is)|" +
                    @"(aerial|satellite|remote sensing) (image|view|photo)|high[- ]resolution)\b", RegexOptions.IgnoreCase)]
    private static partial Regex ThemeCue();

    // Sentence ends: . ! ? or the full-width 。 followed by space or the end, not after a single-letter initial or a digit.
    [GeneratedRegex(@"(?<=[^\s.]{2,}|[0-9]%|\))[.!?。]+(?=\s|$)|(?<=[a-z])[.!?。]+(?=[A-Z])")]
    private static partial Regex SentenceEnd();

    public static IReadOnlyList<string> Sentences(string caption)
    {
        var result = new List<string>();
        int start = 0;
        foreach (Match m in SentenceEnd().Matches(caption))
        {
            string sentence = caption[start..(m.Index + m.Length)].Trim();
            if (sentence.Length > 0) result.Add(sentence);
            start = m.Index + m.Length;
        }
        string rest = caption[start..].Trim();
        if (rest.Length > 0) result.Add(rest);
        return result;
    }

    public static string Label(string sentence, int index)
    {
        if (index == 0) return Theme;
        if (RelationCue().IsMatch(sentence)) return Relationships;
        if (ThemeCue().IsMatch(sentence)) return Theme;
        return Objects;
    }

    // One-sentence references that name the scene ("It is a piece of farmland", "This is a chaparral", "Here is a
    // parking lot"): the short corpora's way of stating the theme.
    [GeneratedRegex(@"^(it|this|here|that) (is|was|shows|looks)\b|^(there is|it is|this is) (a|an) (piece|part|patch|area|region|place|kind) of\b|^an? (piece|area|patch) of\b", RegexOptions.IgnoreCase)]
    private static partial Regex SceneStatement();

    /// <summary>
    /// The aspect of one reference sentence of a corpus whose references are single independent sentences (UCM-captions,
    /// RSICD, Sydney): no sentence is first, so each is judged by what it says — where things are (relationships), a
    /// statement of the scene (theme), or the rest (objects).
    /// </summary>
    public static string LabelReference(string sentence)
    {
        if (SceneStatement().IsMatch(sentence.Trim())) return Theme;
        return Label(sentence, 1);
    }

    public static IReadOnlyList<AspectSentence> Split(string caption) =>
        Sentences(caption).Select((s, i) => new AspectSentence(s, Label(s, i))).ToList();

    /// <summary>The caption's text for one aspect (its sentences in order), or empty.</summary>
    public static string Section(IEnumerable<AspectSentence> sentences, string aspect) =>
        string.Join(' ', sentences.Where(s => s.Aspect == aspect).Select(s => s.Text));
}
