namespace RsMoe.Captions.Tests;

/// <summary>Sections join in aspect order; a sentence another section already said is said once.</summary>
public sealed class SectionMergerTests
{
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
