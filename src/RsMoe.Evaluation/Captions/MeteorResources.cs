using System.IO.Compression;

namespace RsMoe.Evaluation.Captions;

/// <summary>
/// METEOR's synonym data (WordNet, as METEOR 1.5 ships it): <c>english.exceptions</c> (pairs of lines: a base form,
/// then its irregular forms) and <c>english.synsets</c> (pairs of lines: a word, then its synset numbers). A word's
/// synsets are its own plus those of its base form (from the exceptions, else WordNet's suffix rules).
/// </summary>
public sealed class MeteorSynonyms
{
    readonly Dictionary<string, List<string>> _bases = new(StringComparer.Ordinal);
    readonly Dictionary<string, HashSet<int>> _synsets = new(StringComparer.Ordinal);

    static readonly string[] Suffixes = ["s", "ses", "xes", "zes", "ches", "shes", "men", "ies", "s", "ies", "es", "es", "ed", "ed", "ing", "ing", "er", "est", "er", "est"];
    static readonly string[] Endings = ["", "s", "x", "z", "ch", "sh", "man", "y", "", "y", "e", "", "e", "", "e", "", "", "", "e", "e"];

    public static MeteorSynonyms Load(string exceptionsPath, string synsetsPath)
    {
        var result = new MeteorSynonyms();
        using (var reader = new StreamReader(exceptionsPath))
            while (reader.ReadLine() is { } baseForm && reader.ReadLine() is { } forms)
                foreach (var form in forms.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    if (!result._bases.TryGetValue(form, out var list)) result._bases[form] = list = [];
                    list.Add(baseForm);
                }
        using (var reader = new StreamReader(synsetsPath))
            while (reader.ReadLine() is { } word && reader.ReadLine() is { } sets)
                result._synsets[word] = sets.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToHashSet();
        return result;
    }

    HashSet<int> Own(string word) => _synsets.TryGetValue(word, out var s) ? s : [];

    public HashSet<int> SynsetsOf(string word)
    {
        var all = new HashSet<int>(Own(word));
        if (_bases.TryGetValue(word, out var bases)) foreach (var b in bases) all.UnionWith(Own(b));
        else all.UnionWith(Own(Morph(word)));
        return all;
    }

    /// <summary>WordNet 3's detachment rules: the first suffix rule that yields a known word.</summary>
    string Morph(string word)
    {
        if (word.EndsWith("ss", StringComparison.Ordinal) || word.Length <= 2) return word;
        for (int i = 0; i < Suffixes.Length; i++)
        {
            if (!word.EndsWith(Suffixes[i], StringComparison.Ordinal)) continue;
            string candidate = word[..^Suffixes[i].Length] + Endings[i];
            if (candidate != word && _synsets.ContainsKey(candidate)) return candidate;
        }
        return "";
    }
}

/// <summary>
/// METEOR's paraphrase table (<c>paraphrase-en.gz</c>): triples of lines — a probability (unused, as in METEOR),
/// a phrase, and its paraphrase. Phrases are looked up from each position of a sentence.
/// </summary>
public sealed class MeteorParaphrases
{
    readonly Dictionary<string, List<string[]>> _byFirstWord = new(StringComparer.Ordinal);

    public static MeteorParaphrases Load(string path)
    {
        var result = new MeteorParaphrases();
        using var file = File.OpenRead(path);
        using var stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? (Stream)new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new StreamReader(stream);
        while (reader.ReadLine() is not null && reader.ReadLine() is { } phrase && reader.ReadLine() is { } paraphrase)
        {
            var from = phrase.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var to = paraphrase.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (from.Length == 0 || to.Length == 0) continue;
            if (!result._byFirstWord.TryGetValue(from[0], out var list)) result._byFirstWord[from[0]] = list = [];
            list.Add([.. from, "\u0000", .. to]);
        }
        return result;
    }

    /// <summary>(phrase length, paraphrase words) for every table phrase that starts at <paramref name="start"/>.</summary>
    public IEnumerable<(int Length, string[] Paraphrase)> From(string[] words, int start)
    {
        if (!_byFirstWord.TryGetValue(words[start], out var entries)) yield break;
        foreach (var entry in entries)
        {
            int split = Array.IndexOf(entry, "\u0000");
            if (start + split > words.Length) continue;
            bool matches = true;
            for (int k = 0; k < split && matches; k++) matches = words[start + k] == entry[k];
            if (matches) yield return (split, entry[(split + 1)..]);
        }
    }
}
