namespace RsMoe.Model.Tokenizers;

/// <summary>Finds and opens the tokenizer a model directory ships.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// <c>tokenizer.model</c> in tiktoken text form → Llama 3; as a SentencePiece protobuf → Llama 2/Vicuna;
    /// <c>vocab.txt</c> → BERT WordPiece; a directory holding only a <c>tokenizer.gpt2</c> marker → GPT-2.
    /// </summary>
    public static ITextTokenizer FromDirectory(string directory)
    {
        string model = Path.Combine(directory, "tokenizer.model");
        if (File.Exists(model)) return FromTokenizerModel(model);
        string vocab = Path.Combine(directory, "vocab.txt");
        if (File.Exists(vocab)) return BertWordPieceTokenizer.FromVocabFile(vocab);
        if (File.Exists(Path.Combine(directory, "tokenizer.gpt2"))) return new Gpt2Tokenizer();
        string words = Path.Combine(directory, "words.txt");
        if (File.Exists(words)) return WordLevelTokenizer.Load(words);
        throw new FileNotFoundException($"{directory}: no tokenizer.model, vocab.txt or tokenizer.gpt2 marker");
    }

    public static ITextTokenizer FromTokenizerModel(string path) =>
        IsTiktokenFile(path) ? Llama3Tokenizer.FromFile(path) : SentencePieceLlamaTokenizer.FromFile(path);

    /// <summary>tiktoken files are lines of "base64 rank"; SentencePiece models are binary protobuf.</summary>
    static bool IsTiktokenFile(string path)
    {
        using var reader = new StreamReader(path);
        var first = reader.ReadLine();
        if (first is null) return false;
        var parts = first.Split(' ');
        return parts.Length == 2 && int.TryParse(parts[1], out _) && parts[0].All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=');
    }
}
