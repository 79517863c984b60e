using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace RsMoe.Model.Tokenizers;

/// <summary>
/// The Llama 3 tokenizer: tiktoken BPE ranks from <c>tokenizer.model</c>, the Llama 3 pre-tokeniser
/// pattern, and 256 special tokens from id 128000 (names as in meta-llama/llama-models).
/// </summary>
public sealed partial class Llama3Tokenizer : ITextTokenizer
{
    public const string PreTokenizerPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    const int ReservedSpecialTokens = 256;

    static readonly string[] NamedSpecialTokens =
    [
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
        "<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>", "<|end_header_id|>",
        "<|eom_id|>", "<|eot_id|>", "<|python_tag|>", "<|image|>",
    ];

    readonly TiktokenTokenizer _tokenizer;
    readonly IReadOnlyDictionary<string, int> _special;
    readonly int _baseVocab;

    [GeneratedRegex(PreTokenizerPattern)]
    private static partial Regex Pattern();

    Llama3Tokenizer(TiktokenTokenizer tokenizer, IReadOnlyDictionary<string, int> special, int baseVocab)
    {
        _tokenizer = tokenizer;
        _special = special;
        _baseVocab = baseVocab;
    }

    public static Llama3Tokenizer FromFile(string tokenizerModelPath)
    {
        int baseVocab = File.ReadLines(tokenizerModelPath).Count(l => l.Length > 0);
        var special = SpecialTokens(baseVocab);
        using var stream = File.OpenRead(tokenizerModelPath);
        var tokenizer = TiktokenTokenizer.Create(stream, new RegexPreTokenizer(Pattern(), special), normalizer: null, special);
        return new Llama3Tokenizer(tokenizer, special, baseVocab);
    }

    public static IReadOnlyDictionary<string, int> SpecialTokens(int baseVocab)
    {
        var names = NamedSpecialTokens.Concat(
            Enumerable.Range(2, ReservedSpecialTokens - NamedSpecialTokens.Length).Select(i => $"<|reserved_special_token_{i}|>"));
        return names.Select((name, i) => (name, id: baseVocab + i)).ToDictionary(p => p.name, p => p.id);
    }

    public string Name => "llama3";
    public int VocabSize => _baseVocab + ReservedSpecialTokens;
    public int? BosTokenId => _special["<|begin_of_text|>"];
    public IReadOnlyList<int> EosTokenIds => [_special["<|end_of_text|>"], _special["<|eot_id|>"], _special["<|eom_id|>"]];
    public int? PadTokenId => _special["<|finetune_right_pad_id|>"];
    public int SpecialTokenId(string name) => _special[name];

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        var ids = _tokenizer.EncodeToIds(text);
        return addSpecialTokens ? [BosTokenId!.Value, .. ids] : ids;
    }

    /// <summary>Encodes text with BOS and/or EOS as llama-models' <c>encode(s, bos, eos)</c> does.</summary>
    public IReadOnlyList<int> Encode(string text, bool bos, bool eos)
    {
        var ids = new List<int>();
        if (bos) ids.Add(BosTokenId!.Value);
        ids.AddRange(_tokenizer.EncodeToIds(text));
        if (eos) ids.Add(_special["<|end_of_text|>"]);
        return ids;
    }

    /// <summary>One chat message: header, role, blank line, content, end of turn (llama-models' ChatFormat).</summary>
    public IReadOnlyList<int> EncodeMessage(string role, string content)
    {
        var ids = new List<int> { _special["<|start_header_id|>"] };
        ids.AddRange(_tokenizer.EncodeToIds(role));
        ids.Add(_special["<|end_header_id|>"]);
        ids.AddRange(_tokenizer.EncodeToIds("\n\n"));
        ids.AddRange(_tokenizer.EncodeToIds(content.Trim()));
        ids.Add(_special["<|eot_id|>"]);
        return ids;
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) =>
        _tokenizer.Decode(skipSpecialTokens ? ids.Where(id => id < _baseVocab) : ids);
}
