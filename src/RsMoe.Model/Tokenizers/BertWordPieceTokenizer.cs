using System.Globalization;
using System.Text;

namespace RsMoe.Model.Tokenizers;

/// <summary>
/// BERT uncased WordPiece, as the Q-Former's instructions are tokenised: the reference BasicTokenizer
/// (clean, split CJK, lower-case, strip accents, split on punctuation, where ASCII symbols such as
/// <c>$ + &lt; = &gt; ^ ` | ~</c> count as punctuation) then greedy longest-match WordPiece. Symbols that the
/// vocabulary lacks become [UNK] rather than vanishing, as they do in Microsoft.ML.Tokenizers' BertTokenizer.
/// </summary>
public sealed class BertWordPieceTokenizer : ITextTokenizer
{
    const int MaxCharsPerWord = 100;
    readonly Dictionary<string, int> _vocab;
    readonly string[] _idToToken;
    readonly bool _lowerCase;

    public int ClsTokenId { get; }
    public int SepTokenId { get; }
    public int UnknownTokenId { get; }
    public int MaskTokenId { get; }

    BertWordPieceTokenizer(string[] tokens, bool lowerCase)
    {
        _idToToken = tokens;
        _vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Length; i++) _vocab.TryAdd(tokens[i], i);
        _lowerCase = lowerCase;
        ClsTokenId = Id("[CLS]");
        SepTokenId = Id("[SEP]");
        UnknownTokenId = Id("[UNK]");
        MaskTokenId = Id("[MASK]");
        PadTokenId = Id("[PAD]");
    }

    int Id(string token) => _vocab.TryGetValue(token, out int id) ? id : throw new InvalidDataException($"the vocabulary lacks {token}");

    /// <summary>A whole-word vocabulary for small Q-Formers trained here: the special tokens, then every word and mark seen.</summary>
    public static IReadOnlyList<string> BuildVocabulary(IEnumerable<string> texts)
    {
        var builder = new BertWordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], lowerCase: true);
        var words = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var text in texts)
            foreach (var word in builder.BasicTokenize(text)) words.Add(word);
        return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", .. words];
    }

    public static BertWordPieceTokenizer FromVocabulary(IEnumerable<string> tokens) => new(tokens.ToArray(), lowerCase: true);

    public static BertWordPieceTokenizer FromVocabFile(string vocabPath, bool lowerCase = true) =>
        new(File.ReadAllLines(vocabPath).Select(l => l.TrimEnd('\r')).ToArray(), lowerCase);

    public IReadOnlyList<string> Vocabulary => _idToToken;

    public string Name => "bert-wordpiece";
    public int VocabSize => _idToToken.Length;
    public int? BosTokenId => ClsTokenId;
    public IReadOnlyList<int> EosTokenIds => [SepTokenId];
    public int? PadTokenId { get; }

    /// <summary>Token ids; with special tokens, <c>[CLS] … [SEP]</c>.</summary>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        var ids = new List<int>();
        if (addSpecialTokens) ids.Add(ClsTokenId);
        foreach (var word in BasicTokenize(text)) WordPiece(word, ids);
        if (addSpecialTokens) ids.Add(SepTokenId);
        return ids;
    }

    public IReadOnlyList<string> Tokenize(string text) => Encode(text, false).Select(id => _idToToken[id]).ToList();

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true)
    {
        var sb = new StringBuilder();
        foreach (int id in ids)
        {
            if (id < 0 || id >= _idToToken.Length) continue;
            string token = _idToToken[id];
            if (skipSpecialTokens && token is "[CLS]" or "[SEP]" or "[PAD]" or "[MASK]") continue;
            if (token.StartsWith("##", StringComparison.Ordinal)) sb.Append(token, 2, token.Length - 2);
            else { if (sb.Length > 0) sb.Append(' '); sb.Append(token); }
        }
        return sb.ToString();
    }

    IEnumerable<string> BasicTokenize(string text)
    {
        var cleaned = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            int cp = rune.Value;
            if (cp == 0 || cp == 0xFFFD || IsControl(rune)) continue;
            if (IsWhitespace(rune)) cleaned.Append(' ');
            else if (IsChineseCharacter(cp)) cleaned.Append(' ').Append(rune.ToString()).Append(' ');
            else cleaned.Append(rune.ToString());
        }

        foreach (var raw in cleaned.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            string token = raw;
            if (_lowerCase) token = StripAccents(token.ToLowerInvariant());
            var current = new StringBuilder();
            foreach (var rune in token.EnumerateRunes())
            {
                if (IsPunctuation(rune))
                {
                    if (current.Length > 0) { yield return current.ToString(); current.Clear(); }
                    yield return rune.ToString();
                }
                else current.Append(rune.ToString());
            }
            if (current.Length > 0) yield return current.ToString();
        }
    }

    void WordPiece(string word, List<int> output)
    {
        if (word.Length > MaxCharsPerWord) { output.Add(UnknownTokenId); return; }
        int start = output.Count;
        int position = 0;
        while (position < word.Length)
        {
            int end = word.Length;
            int found = -1;
            while (end > position)
            {
                string piece = position > 0 ? "##" + word[position..end] : word[position..end];
                if (_vocab.TryGetValue(piece, out int id)) { found = id; break; }
                end--;
                if (end > position && char.IsLowSurrogate(word[end])) end--;   // never split a surrogate pair
            }
            if (found < 0)
            {
                output.RemoveRange(start, output.Count - start);
                output.Add(UnknownTokenId);
                return;
            }
            output.Add(found);
            position = end;
        }
    }

    static string StripAccents(string text)
    {
        var decomposed = text.Normalize(NormalizationForm.FormD);
        var sb = new StringBuilder(decomposed.Length);
        foreach (var rune in decomposed.EnumerateRunes())
            if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark) sb.Append(rune.ToString());
        return sb.ToString();
    }

    static bool IsWhitespace(Rune rune) =>
        rune.Value is ' ' or '\t' or '\n' or '\r' || Rune.GetUnicodeCategory(rune) == UnicodeCategory.SpaceSeparator;

    static bool IsControl(Rune rune)
    {
        if (rune.Value is '\t' or '\n' or '\r') return false;
        var category = Rune.GetUnicodeCategory(rune);
        return category is UnicodeCategory.Control or UnicodeCategory.Format;
    }

    static bool IsPunctuation(Rune rune)
    {
        int cp = rune.Value;
        if (cp is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) return true;
        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    static bool IsChineseCharacter(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
