using System.Text;
using System.Text.RegularExpressions;

namespace RsMoe.Model.Tokenizers;

/// <summary>
/// A cased word-level tokenizer for small models trained here: words (with inner hyphens and apostrophes) and
/// punctuation marks are tokens; the vocabulary is built from training text and saved one token a line, the first
/// four being &lt;pad&gt;, &lt;bos&gt;, &lt;eos&gt;, &lt;unk&gt;. Decoding puts no space before closing punctuation.
/// </summary>
public sealed partial class WordLevelTokenizer : ITextTokenizer
{
    public const string Pad = "<pad>", Bos = "<bos>", Eos = "<eos>", Unknown = "<unk>";
    readonly string[] _tokens;
    readonly Dictionary<string, int> _ids;

    [GeneratedRegex(@"[\p{L}\p{N}]+(?:[-'][\p{L}\p{N}]+)*|[^\s\p{L}\p{N}]")]
    private static partial Regex Word();

    public WordLevelTokenizer(IEnumerable<string> tokens)
    {
        _tokens = tokens.ToArray();
        if (_tokens.Length < 4 || _tokens[0] != Pad || _tokens[1] != Bos || _tokens[2] != Eos || _tokens[3] != Unknown)
            throw new InvalidDataException("a word-level vocabulary starts with <pad>, <bos>, <eos>, <unk>");
        _ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < _tokens.Length; i++) _ids.TryAdd(_tokens[i], i);
    }

    /// <param name="keep">Texts whose every word is in the vocabulary whatever its count (prompts the model is built with).</param>
    public static WordLevelTokenizer Build(IEnumerable<string> texts, int minCount = 1, IEnumerable<string>? keep = null)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var text in texts)
            foreach (Match m in Word().Matches(text)) counts[m.Value] = counts.GetValueOrDefault(m.Value) + 1;
        foreach (var text in keep ?? [])
            foreach (Match m in Word().Matches(text)) counts[m.Value] = Math.Max(minCount, counts.GetValueOrDefault(m.Value));
        var vocabulary = counts.Where(c => c.Value >= minCount).OrderByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal).Select(c => c.Key);
        return new WordLevelTokenizer(new[] { Pad, Bos, Eos, Unknown }.Concat(vocabulary));
    }

    public static WordLevelTokenizer Load(string path) => new(File.ReadAllLines(path));

    public void Save(string path) => File.WriteAllLines(path, _tokens);

    public string Name => "word-level";
    public int VocabSize => _tokens.Length;
    public int? BosTokenId => 1;
    public IReadOnlyList<int> EosTokenIds => [2];
    public int? PadTokenId => 0;
    public int UnknownTokenId => 3;

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        var ids = new List<int>();
        if (addSpecialTokens) ids.Add(1);
        foreach (Match m in Word().Matches(text)) ids.Add(_ids.TryGetValue(m.Value, out int id) ? id : UnknownTokenId);
        return ids;
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            if (id < 0 || id >= _tokens.Length) continue;
            if (skipSpecialTokens && id < 4 && id != UnknownTokenId) continue;
            string token = _tokens[id];
            bool closing = token.Length == 1 && ".,!?;:)%".Contains(token[0]);
            bool afterOpening = sb.Length > 0 && sb[^1] == '(';
            if (sb.Length > 0 && !closing && !afterOpening) sb.Append(' ');
            sb.Append(token);
        }
        return sb.ToString();
    }
}
