using System.Text;

namespace RsMoe.Data.Datasets;

/// <summary>
/// Caption text without images, for pre-training the language model (Stage 0): every Karpathy corpus in a folder
/// (train and val images only) and RSICap's captions, each text once. A sentence that also appears among held-out
/// references (the test captions the model will be scored on; the corpora overlap) is left out.
/// </summary>
public static class CaptionCorpus
{
    public sealed record Result(IReadOnlyList<string> Texts, int Sentences, int HeldOut, IReadOnlyDictionary<string, int> TextsPerFile);

    /// <param name="captionFolder">Karpathy JSON files (e.g. <c>../shared/data/captions</c>).</param>
    /// <param name="rsicap">RSICap's <c>captions.json</c>, or null.</param>
    /// <param name="heldOut">References that must not be seen: compared by <see cref="Key"/>.</param>
    public static Result Read(string captionFolder, string? rsicap, IEnumerable<string> heldOut)
    {
        if (!Directory.Exists(captionFolder)) throw new DirectoryNotFoundException($"no caption folder at '{captionFolder}'");
        var excluded = heldOut.Select(Key).ToHashSet(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var texts = new List<string>();
        var perFile = new Dictionary<string, int>();
        int sentences = 0, removed = 0;
        void Add(string file, string text)
        {
            // Long captions are kept whole, less any held-out sentence.
            var kept = new List<string>();
            foreach (string sentence in Aspects.AspectSplitter.Sentences(text))
            {
                sentences++;
                if (excluded.Contains(Key(sentence))) removed++;
                else kept.Add(sentence);
            }
            string joined = string.Join(' ', kept);
            if (joined.Length == 0 || !seen.Add(joined)) return;
            texts.Add(joined);
            perFile[file] = perFile.GetValueOrDefault(file) + 1;
        }
        foreach (string path in Directory.EnumerateFiles(captionFolder, "*.json").Order(StringComparer.Ordinal))
        {
            var dataset = DatasetReader.Read(path);
            foreach (var image in dataset.Images.Where(i => !string.Equals(i.Split, "test", StringComparison.OrdinalIgnoreCase)))
                foreach (string caption in image.Captions) Add(Path.GetFileName(path), caption);
        }
        if (rsicap is not null)
            foreach (var image in DatasetReader.Read(rsicap).Images)
                foreach (string caption in image.Captions) Add(Path.GetFileName(rsicap), caption);
        return new Result(texts, sentences, removed, perFile);
    }

    /// <summary>A sentence compared without case, punctuation or spacing.</summary>
    public static string Key(string sentence)
    {
        var sb = new StringBuilder(sentence.Length);
        bool space = false;
        foreach (char c in sentence.ToLowerInvariant())
        {
            if (char.IsLetterOrDigit(c)) { if (space && sb.Length > 0) sb.Append(' '); sb.Append(c); space = false; }
            else space = true;
        }
        return sb.ToString();
    }
}
