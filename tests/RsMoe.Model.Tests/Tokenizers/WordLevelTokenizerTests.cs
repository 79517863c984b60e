using RsMoe.Model.Tokenizers;

namespace RsMoe.Model.Tests.Tokenizers;

public sealed class WordLevelTokenizerTests
{
    [Fact]
    public void RoundTripsCaptionsAndMarksUnknownWords()
    {
        var tokenizer = WordLevelTokenizer.Build(["There are five red-roofed buildings.", "The trees are next to the road, not the river."]);
        Assert.Equal(1, tokenizer.BosTokenId);
        var ids = tokenizer.Encode("There are five red-roofed buildings.", addSpecialTokens: false);
        Assert.Equal("There are five red-roofed buildings.", tokenizer.Decode(ids));
        Assert.Equal("The trees are next to the road, not the river.", tokenizer.Decode(tokenizer.Encode("The trees are next to the road, not the river.")));
        Assert.Contains(tokenizer.UnknownTokenId, tokenizer.Encode("A submarine."));
        string path = Path.GetTempFileName();
        tokenizer.Save(path);
        Assert.Equal(ids, WordLevelTokenizer.Load(path).Encode("There are five red-roofed buildings.", false));
        Assert.Throws<InvalidDataException>(() => new WordLevelTokenizer(["a", "b"]));
    }
}
