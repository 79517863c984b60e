using Microsoft.ML.Tokenizers;

namespace RsMoe.Model.Tokenizers;

/// <summary>The Llama 2 / Vicuna SentencePiece BPE tokenizer from <c>tokenizer.model</c> (BOS 1, EOS 2).</summary>
public sealed class SentencePieceLlamaTokenizer : ITextTokenizer
{
    readonly LlamaTokenizer _tokenizer;

    SentencePieceLlamaTokenizer(LlamaTokenizer tokenizer) => _tokenizer = tokenizer;

    public static SentencePieceLlamaTokenizer FromFile(string tokenizerModelPath)
    {
        using var stream = File.OpenRead(tokenizerModelPath);
        return new SentencePieceLlamaTokenizer(LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false));
    }

    public string Name => "llama2-spm";
    public int VocabSize => _tokenizer.Vocabulary.Count;
    public int? BosTokenId => _tokenizer.BeginningOfSentenceId;
    public IReadOnlyList<int> EosTokenIds => [_tokenizer.EndOfSentenceId];
    public int? PadTokenId => null;

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        var ids = text.Length == 0 ? [] : _tokenizer.EncodeToIds(text);
        return addSpecialTokens ? [_tokenizer.BeginningOfSentenceId, .. ids] : ids;
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true) =>
        _tokenizer.Decode(skipSpecialTokens
            ? ids.Where(id => id != _tokenizer.BeginningOfSentenceId && id != _tokenizer.EndOfSentenceId && id != _tokenizer.UnknownId)
            : ids);
}
