namespace RsMoe.Model.Tokenizers;

/// <summary>What the model needs of a tokenizer: ids for text, text for ids, and the special ids.</summary>
public interface ITextTokenizer
{
    string Name { get; }
    int VocabSize { get; }
    int? BosTokenId { get; }
    IReadOnlyList<int> EosTokenIds { get; }
    int? PadTokenId { get; }

    /// <summary>Encodes text; <paramref name="addSpecialTokens"/> adds what the model expects around it (BOS, or [CLS]/[SEP]).</summary>
    IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true);

    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = true);
}
