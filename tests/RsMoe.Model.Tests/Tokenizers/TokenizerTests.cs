using System.Text.Json;
using RsMoe.Model.Tests.Support;
using RsMoe.Model.Tokenizers;

namespace RsMoe.Model.Tests.Tokenizers;

public sealed class TokenizerTests
{
    [Fact]
    public void Llama3MatchesLlamaModelsVectorsIncludingChatFormat()
    {
        var tokenizer = Llama3Tokenizer.FromFile(SharedData.Path("tokenizers", "llama3", "tokenizer.model"));
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedData.Path("tokenizers", "llama3", "llama_models_test_vectors.json")));
        var cases = doc.RootElement.GetProperty("cases").EnumerateArray().ToList();
        var plain = cases[0];
        Assert.Equal(plain.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()),
            tokenizer.Encode(plain.GetProperty("text").GetString()!, bos: true, eos: true));
        var chat = cases[1].GetProperty("chat_message");
        Assert.Equal(cases[1].GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()),
            tokenizer.EncodeMessage(chat.GetProperty("role").GetString()!, chat.GetProperty("content").GetString()!));
        Assert.Equal(128256, tokenizer.VocabSize);
        Assert.Equal(128009, tokenizer.SpecialTokenId("<|eot_id|>"));
        Assert.Equal("This is a test sentence.", tokenizer.Decode(tokenizer.Encode("This is a test sentence.")));
    }

    [Fact]
    public void Llama2SentencePieceMatchesLlama2cVectors()
    {
        var tokenizer = SentencePieceLlamaTokenizer.FromFile(SharedData.Path("tokenizers", "llama2-spm", "tokenizer.model"));
        using var doc = JsonDocument.Parse(File.ReadAllText(SharedData.Path("tokenizers", "llama2-spm", "llama2c_test_c_vectors.json")));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
            Assert.Equal(c.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()), tokenizer.Encode(c.GetProperty("text").GetString()!));
        Assert.Equal(32000, tokenizer.VocabSize);
        Assert.Equal("I believe the meaning of life is", tokenizer.Decode(tokenizer.Encode("I believe the meaning of life is")));
    }

    [Fact]
    public void BertKeepsSymbolsAsTokensOrUnknownWhereTheLibraryDropsThem()
    {
        var tokenizer = BertWordPieceTokenizer.FromVocabFile(SharedData.Path("tokenizers", "bert", "vocab.txt"));
        Assert.Equal(["a", "+", "b", "=", "c", "$", "5", "|", "[UNK]"], tokenizer.Tokenize("a+b=c $5 | 🦙"));
        Assert.Equal(["describe", "the", "image", "in", "detail", "."], tokenizer.Tokenize("Describe the image in detail."));
        var ids = tokenizer.Encode("Hello world");
        Assert.Equal([tokenizer.ClsTokenId, 7592, 2088, tokenizer.SepTokenId], ids);

        // The reason this class exists: the library's BertTokenizer loses the symbols entirely.
        var library = Microsoft.ML.Tokenizers.BertTokenizer.Create(SharedData.Path("tokenizers", "bert", "vocab.txt"));
        var libraryIds = library.EncodeToIds("a+b=c", addSpecialTokens: false);
        Assert.NotEqual(tokenizer.Encode("a+b=c", false), libraryIds);
    }

    [Fact]
    public void Gpt2EncodesWithTheBundledData()
    {
        var tokenizer = new Gpt2Tokenizer();
        Assert.Equal([15496, 995], tokenizer.Encode("Hello world"));
        Assert.Equal("Hello world", tokenizer.Decode([15496, 995]));
    }

    [Fact]
    public void LoaderTellsTiktokenFromSentencePiece()
    {
        Assert.IsType<Llama3Tokenizer>(TokenizerLoader.FromTokenizerModel(SharedData.Path("tokenizers", "llama3", "tokenizer.model")));
        Assert.IsType<SentencePieceLlamaTokenizer>(TokenizerLoader.FromTokenizerModel(SharedData.Path("tokenizers", "llama2-spm", "tokenizer.model")));
        Assert.IsType<BertWordPieceTokenizer>(TokenizerLoader.FromDirectory(SharedData.Path("tokenizers", "bert")));
    }
}
