using RsMoe.Captions;
using RsMoe.Model.Moe;
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

    [Fact]
    public void SectionsMergeInOrderWithoutRepeatedSentences()
    {
        var (caption, sections) = SectionMerger.Merge([
            new CaptionSection("theme", "theme", "This is an aerial image of a harbor."),
            new CaptionSection("objects", "objects", "There are two ships. this is an aerial image of a harbor"),
            new CaptionSection("relationships", "relationships", "The ships are in the upper left of the image. There are two ships."),
        ]);
        Assert.Equal("This is an aerial image of a harbor. There are two ships. The ships are in the upper left of the image.", caption);
        Assert.Equal(["theme", "objects", "relationships"], sections.Select(s => s.Aspect));
        Assert.Equal("There are two ships.", sections[1].Text);
    }

    [Fact]
    public void ASectionThatOnlyRepeatsKeepsItsTextButTheCaptionHoldsItOnce()
    {
        var (caption, sections) = SectionMerger.Merge([
            new CaptionSection("theme", "theme", "Lots of boats docked at the harbor."),
            new CaptionSection("objects", "objects", "The water is deep blue."),
            new CaptionSection("relationships", "relationships", "lots of boats docked at the harbor"),
        ]);
        Assert.Equal("Lots of boats docked at the harbor. The water is deep blue.", caption);
        Assert.Equal("lots of boats docked at the harbor", sections[2].Text);
        Assert.True(SectionMerger.OnlyRepeats(sections[2].Text, [sections[0].Text, sections[1].Text]));
        Assert.False(SectionMerger.OnlyRepeats(sections[1].Text, [sections[0].Text]));
    }
}
